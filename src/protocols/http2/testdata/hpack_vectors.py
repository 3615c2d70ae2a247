# Regenerates hpack_vectors.json with Python's `hpack` (PyPI, 4.2.0): header lists encoded by
# an independent encoder, with and without Huffman, through table size changes and
# evictions, so that the decoder is checked against bytes it did not write.
#   pip install hpack==4.2.0 && python3 hpack_vectors.py > hpack_vectors.json
import json
import random

from hpack import Encoder, huffman, huffman_constants

rnd = random.Random(7)
NAMES = ["content-type", "x-request-id", "user-agent", "accept", "cookie", "grpc-status",
         "grpc-message", "te", "traceparent", "x-custom-\u00e9"]


def value():
    n = rnd.choice([0, 1, 5, 20, 60, 150])
    return "".join(chr(rnd.choice([rnd.randrange(32, 127), rnd.randrange(0, 256)]))
                   for _ in range(n))


series = []
for s in range(16):
    enc = Encoder()
    huff = rnd.random() < 0.7
    steps = []
    for i in range(12):
        if rnd.random() < 0.15:
            enc.header_table_size = rnd.choice([0, 64, 256, 4096, 8192])
        fields = [(":method", rnd.choice(["GET", "POST"])), (":path", "/p/%d" % rnd.randrange(50)),
                  (":scheme", "https"), (":authority", "h%d.example" % rnd.randrange(3))]
        for _ in range(rnd.randrange(6)):
            fields.append((rnd.choice(NAMES).encode("latin-1").decode("latin-1"), value()))
        sensitive = rnd.random() < 0.2
        block = enc.encode(
            [(n.encode("latin-1"), v.encode("latin-1"), sensitive) if sensitive else
             (n.encode("latin-1"), v.encode("latin-1")) for n, v in fields],
            huffman=huff)
        steps.append({"block": block.hex(), "fields": fields})
    series.append(steps)

# Every byte value through the Huffman coder, and random strings.
coder = huffman.HuffmanEncoder(huffman_constants.REQUEST_CODES,
                               huffman_constants.REQUEST_CODES_LENGTH)
strings = [bytes([b]) for b in range(256)] + [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))
                                               for _ in range(100)]
huff = [{"raw": s.hex(), "coded": coder.encode(s).hex()} for s in strings]
print(json.dumps({"series": series, "huffman": huff}))

/**
 * The bounded first-in, first-out queues the SQL wire parsers pair statements and answers
 * through: statements waiting for answers, answers waiting for their statement. Bounded,
 * because a stream that stops making sense must not grow them without end.
 *
 * @module
 */

/**
 * Appends `item`; when `queue` already holds `max`, the oldest goes first and `onOverflow`
 * is told.
 *
 * @example
 * ```ts
 * import { pushBounded } from "./queue.ts";
 * const q = [1, 2];
 * pushBounded(q, 3, 2, () => console.log("overflow")); // logs "overflow"; q is [2, 3]
 * ```
 */
export function pushBounded<T>(queue: T[], item: T, max: number, onOverflow: () => void): void {
  if (queue.length >= max) {
    onOverflow();
    queue.shift();
  }
  queue.push(item);
}

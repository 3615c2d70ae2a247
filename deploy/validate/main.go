// Command validate checks Kubernetes manifests against the API's own Go types
// (k8s.io/api): each document is decoded strictly and case-sensitively, as the API server
// does, so an unknown or misspelt field, a duplicate key, a value of the wrong type or an
// unknown kind is an error, as `kubectl apply
// --validate=strict` would report. It then applies the API server's checks that the types
// alone do not carry for a DaemonSet: the selector matches the pod template's labels,
// every container has a name and an image, every volume mount names a volume, and added
// capabilities are Linux capability names.
//
// Usage: validate [-json] FILE.yaml…  — prints one line per object ("ok apps/v1 DaemonSet
// upspan"), or with -json the decoded objects as JSON lines; exits 1 on the first problem.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Linux capability names as Kubernetes spells them (without CAP_), from capability.h.
var capabilityNames = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL
		SETGID SETUID SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW
		IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN
		SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE
		AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND
		AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE ALL`) {
		capabilityNames[c] = true
	}
}

// newObject returns an empty typed object for apiVersion and kind, or nil when unknown.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "apps/v1 DaemonSet":
		return &appsv1.DaemonSet{}
	case "v1 Namespace":
		return &corev1.Namespace{}
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "rbac.authorization.k8s.io/v1 ClusterRole":
		return &rbacv1.ClusterRole{}
	case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}
	}
	return nil
}

// checkPodSpec applies the API server's rules that strict decoding cannot.
func checkPodSpec(spec *corev1.PodSpec) error {
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.Name == "" || c.Image == "" {
			return fmt.Errorf("a container needs a name and an image (name %q, image %q)", c.Name, c.Image)
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				return fmt.Errorf("container %q mounts volume %q, which spec.volumes does not define", c.Name, m.Name)
			}
		}
		if sc := c.SecurityContext; sc != nil && sc.Capabilities != nil {
			for _, cap := range append(append([]corev1.Capability{}, sc.Capabilities.Add...), sc.Capabilities.Drop...) {
				if !capabilityNames[string(cap)] {
					return fmt.Errorf("container %q: %q is not a capability name (write it without CAP_)", c.Name, cap)
				}
			}
		}
	}
	return nil
}

func checkDaemonSet(ds *appsv1.DaemonSet) error {
	if ds.Spec.Selector == nil {
		return errors.New("spec.selector is required")
	}
	sel := labels.SelectorFromSet(ds.Spec.Selector.MatchLabels)
	if len(ds.Spec.Selector.MatchLabels) == 0 || !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		return errors.New("spec.selector.matchLabels must match spec.template.metadata.labels")
	}
	if len(ds.Spec.Template.Spec.Containers) == 0 {
		return errors.New("spec.template.spec.containers is empty")
	}
	return checkPodSpec(&ds.Spec.Template.Spec)
}

func check(path string, asJSON bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %v", path, i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return fmt.Errorf("%s: document %d: %v", path, i, err)
		}
		if head.APIVersion == "" && head.Kind == "" {
			continue // only comments
		}
		obj := newObject(head.APIVersion, head.Kind)
		if obj == nil {
			return fmt.Errorf("%s: document %d: unknown kind %q of apiVersion %q", path, i, head.Kind, head.APIVersion)
		}
		// As the API server decodes: field names case-sensitive (encoding/json alone would
		// take "hostPid" for hostPID), unknown and duplicate fields refused.
		data, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return fmt.Errorf("%s: %s %q: %v", path, head.Kind, head.Metadata.Name, err)
		}
		strict, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
		if err == nil && len(strict) > 0 {
			err = errors.Join(strict...)
		}
		if err != nil {
			return fmt.Errorf("%s: %s %q: %v", path, head.Kind, head.Metadata.Name, err)
		}
		if ds, ok := obj.(*appsv1.DaemonSet); ok {
			if err := checkDaemonSet(ds); err != nil {
				return fmt.Errorf("%s: DaemonSet %q: %v", path, head.Metadata.Name, err)
			}
		}
		if asJSON {
			out, _ := json.Marshal(obj)
			fmt.Println(string(out))
		} else {
			fmt.Printf("ok %s %s %s\n", head.APIVersion, head.Kind, head.Metadata.Name)
		}
	}
}

func main() {
	asJSON := flag.Bool("json", false, "print the decoded objects as JSON lines")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: validate [-json] FILE.yaml…")
		os.Exit(2)
	}
	for _, path := range flag.Args() {
		if err := check(path, *asJSON); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

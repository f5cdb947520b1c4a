package config

import (
	"fmt"
	"strings"
)

// parseAppName splits "app{k=v,k2=v2}" into the name and its tags.
func parseAppName(s string) (string, map[string]string, error) {
	tags := map[string]string{}
	name := s
	if i := strings.IndexByte(s, '{'); i >= 0 {
		if !strings.HasSuffix(s, "}") {
			return "", nil, fmt.Errorf("%q has '{' without a closing '}' at the end: write \"app{key=value}\"", s)
		}
		name = s[:i]
		body := s[i+1 : len(s)-1]
		if strings.TrimSpace(body) != "" {
			var err error
			if tags, err = parseTagList(body); err != nil {
				return "", nil, fmt.Errorf("%q: %w", s, err)
			}
		}
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil, fmt.Errorf("%q has no name before its tags", s)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune("{}=, \t\"", r) {
			return "", nil, fmt.Errorf("%q contains %q, which breaks the app{k=v} series syntax: use letters, digits, '.', '-', '_' or '/'", name, r)
		}
	}
	return name, tags, nil
}

// parseTagList parses "k=v,k2=v2", the form of PYROSCOPE_TAGS and of the tags
// inside an application name.
func parseTagList(s string) (map[string]string, error) {
	tags := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("tag %q has no '=': write key=value", kv)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if err := validateTag(k, v); err != nil {
			return nil, err
		}
		if _, dup := tags[k]; dup {
			return nil, fmt.Errorf("tag key %q appears twice", k)
		}
		tags[k] = v
	}
	return tags, nil
}

// ValidateTags checks tags with the rules Start applies to Config.Tags, for
// tags a caller adds to a series (the CLI's --tag and the pulled instance).
func ValidateTags(tags map[string]string) error {
	for k, v := range tags {
		if err := validateTag(k, v); err != nil {
			return err
		}
	}
	return nil
}

// TagKey is the key a server stores for tag or label key k: every
// character other than an ASCII letter, digit or '_' becomes '_', and a
// leading digit gets a '_' before it. Pyroscope 0.37 rejects a whole upload
// for a '.' in a key, current Pyroscope for a '-' or a space, and Parca
// needs Prometheus label names, so the rule is the same for every backend:
// "service.version" becomes "service_version", "k8s-pod" "k8s_pod".
func TagKey(k string) string {
	ok := true
	for i, r := range k {
		if !keyRune(i, r) {
			ok = false
			break
		}
	}
	if ok {
		return k
	}
	var b strings.Builder
	for i, r := range k {
		if i == 0 && r >= '0' && r <= '9' {
			b.WriteByte('_')
		}
		if keyRune(1, r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// keyRune reports whether r may stand at byte offset i of a stored key.
func keyRune(i int, r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
}

// renameTags returns tags with every key as TagKey stores it, and records
// in renamed each key it changed. Two keys that become one are an error.
func renameTags(tags map[string]string, renamed map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(tags))
	from := map[string]string{}
	for k, v := range tags {
		nk := TagKey(k)
		if other, dup := from[nk]; dup {
			return nil, fmt.Errorf("tag keys %q and %q both become %q on the server: rename one", min(k, other), max(k, other), nk)
		}
		from[nk] = k
		if nk != k {
			renamed[k] = nk
		}
		out[nk] = v
	}
	return out, nil
}

// validateTag accepts any non-empty key not reserved ("__" prefix), as
// TagKey will store it, and values without the characters that break
// "app{k=v}": { } , = and control characters.
func validateTag(k, v string) error {
	if k == "" {
		return fmt.Errorf("empty tag key (value %q)", v)
	}
	if strings.HasPrefix(TagKey(k), "__") {
		return fmt.Errorf("tag key %q starts with \"__\", which is reserved for the server", k)
	}
	if v == "" {
		return fmt.Errorf("tag %q has an empty value", k)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || strings.ContainsRune("{},=", r) {
			return fmt.Errorf("tag %q value %q contains %q, which breaks the app{k=v} series syntax", k, v, r)
		}
	}
	return nil
}

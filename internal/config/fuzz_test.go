package config

import (
	"strings"
	"testing"
)

func FuzzParseAppName(f *testing.F) {
	for _, s := range []string{"app", "app{env=prod}", "a.b-c{k=v,k2=v2}", "app{", "{k=v}", "app{k=v}}", "app{k==v}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, tags, err := parseAppName(s)
		if err != nil {
			return
		}
		if name == "" || strings.ContainsAny(name, "{}=,") {
			t.Fatalf("accepted name %q from %q", name, s)
		}
		for k, v := range tags {
			if validateTag(k, v) != nil {
				t.Fatalf("accepted invalid tag %q=%q from %q", k, v, s)
			}
		}
	})
}

func FuzzParseTagList(f *testing.F) {
	for _, s := range []string{"k=v", "a=1,b=2", " a = 1 ", "a", "a=", "=v", "a.b=c", "a=b=c", "a=1,a=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseTagList(s)
		if err != nil {
			return
		}
		for k, v := range tags {
			if err := validateTag(k, v); err != nil {
				t.Fatalf("accepted %q=%q from %q: %v", k, v, s, err)
			}
			// Every accepted tag survives the series syntax unchanged.
			_, back, err := parseAppName("app{" + k + "=" + v + "}")
			if err != nil || back[k] != v {
				t.Fatalf("tag %q=%q does not round-trip through app{...}: %v", k, v, err)
			}
		}
	})
}

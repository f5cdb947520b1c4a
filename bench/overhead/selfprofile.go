package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// Each SDK profiles its own process, so in the idle-rich scenario, where the
// program does nothing, the CPU profiles it uploads show where the SDK's own
// time goes (less the short gaps between two CPU profiles, which are the
// SDK's too). selfProfile merges them over the rounds of the largest
// idle-rich scenario.
func selfProfile(res *results, v string) (*profile.Profile, scenario, error) {
	var big scenario
	for _, s := range res.plan.scenarios {
		if s.name == "idle" && s.stacks > big.stacks {
			big = s
		}
	}
	var ps []*profile.Profile
	for _, rd := range res.rounds[big.key()] {
		if rd[v] != nil && rd[v].cpu != nil {
			p := rd[v].cpu
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil, big, nil
	}
	p, err := profile.Merge(ps)
	return p, big, err
}

// writeSelfProfiles writes the merged profiles as cpu-idle-<variant>.pb.gz
// for `go tool pprof`.
func writeSelfProfiles(res *results, dir string) error {
	for _, v := range res.sdks() {
		p, _, err := selfProfile(res, v)
		if err != nil || p == nil {
			return err
		}
		f, err := os.Create(filepath.Join(dir, "cpu-idle-"+v+".pb.gz"))
		if err != nil {
			return err
		}
		if err := p.Write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// A funcCost is one function's share of a CPU profile.
type funcCost struct {
	name      string
	flat, cum int64
}

// topFunctions returns the n functions with most cumulative CPU time, and
// the profile's total. Recursion is counted once per sample.
func topFunctions(p *profile.Profile, n int) ([]funcCost, int64) {
	vi := len(p.SampleType) - 1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	costs := map[string]*funcCost{}
	get := func(name string) *funcCost {
		c, ok := costs[name]
		if !ok {
			c = &funcCost{name: name}
			costs[name] = c
		}
		return c
	}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		seen := map[string]bool{}
		for li, loc := range s.Location {
			for ln, l := range loc.Line {
				if l.Function == nil {
					continue
				}
				name := l.Function.Name
				if li == 0 && ln == 0 {
					get(name).flat += v
				}
				if !seen[name] {
					seen[name] = true
					get(name).cum += v
				}
			}
		}
	}
	var out []funcCost
	for _, c := range costs {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b funcCost) int {
		if a.cum != b.cum {
			return int(b.cum - a.cum)
		}
		return strings.Compare(a.name, b.name)
	})
	return out[:min(n, len(out))], total
}

// selfProfileTable renders the top functions of each SDK's own profile.
func selfProfileTable(b *strings.Builder, res *results) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	for _, v := range res.sdks() {
		p, s, err := selfProfile(res, v)
		if err != nil || p == nil {
			w("No CPU profile of %s's idle runs (%v).\n\n", v, err)
			continue
		}
		top, total := topFunctions(p, 15)
		w("### Where %s's CPU goes: idle-rich, %d stacks, %d rounds merged (%.2f s sampled; `go tool pprof overhead/cpu-idle-%s.pb.gz`)\n\n", v, s.stacks, res.plan.rounds, float64(total)/1e9, v)
		w("| function | flat | cum |\n|---|---|---|\n")
		for _, c := range top {
			w("| `%s` | %.1f%% | %.1f%% |\n", c.name, 100*float64(c.flat)/float64(max(total, 1)), 100*float64(c.cum)/float64(max(total, 1)))
		}
		w("\n")
	}
}

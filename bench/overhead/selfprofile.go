package main

import (
	"cmp"
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

// functionCosts sums each function's flat and cumulative CPU time, and
// returns them with the profile's total. Recursion counts once per sample.
func functionCosts(p *profile.Profile) ([]funcCost, int64) {
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
	return out, total
}

// top returns the n costs that by ranks first, then by name.
func top(costs []funcCost, n int, by func(funcCost) int64, keep func(string) bool) []funcCost {
	var out []funcCost
	for _, c := range costs {
		if keep(c.name) && by(c) > 0 {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b funcCost) int {
		if x, y := by(a), by(b); x != y {
			return cmp.Compare(y, x)
		}
		return strings.Compare(a.name, b.name)
	})
	return out[:min(n, len(out))]
}

// sdkPackage is the import path prefix of each variant's own code.
func sdkPackage(v string) string {
	if v == "peer" {
		return "github.com/grafana/pyroscope-go"
	}
	return "github.com/pyroscope-sdk/pyroscope-go"
}

// selfProfileTable renders, for each SDK's own profile, the functions that
// burn the CPU (flat) and the SDK's own functions that cause it (cum).
func selfProfileTable(b *strings.Builder, res *results) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	for _, v := range res.sdks() {
		p, s, err := selfProfile(res, v)
		if err != nil || p == nil {
			w("No CPU profile of %s's idle runs (%v).\n\n", v, err)
			continue
		}
		costs, total := functionCosts(p)
		share := func(x int64) string { return fmt.Sprintf("%.1f%%", 100*float64(x)/float64(max(total, 1))) }
		w("### Where the CPU of %s goes: idle-rich, %d stacks, %d rounds merged (%.2f s sampled; `go tool pprof overhead/cpu-idle-%s.pb.gz`)\n\n", v, s.stacks, res.plan.rounds, float64(total)/1e9, v)
		w("| top flat | flat | top cum in %s | cum |\n|---|---|---|---|\n", sdkPackage(v))
		flat := top(costs, 12, func(c funcCost) int64 { return c.flat }, func(string) bool { return true })
		cum := top(costs, 12, func(c funcCost) int64 { return c.cum }, func(n string) bool { return strings.HasPrefix(n, sdkPackage(v)) })
		for i := range max(len(flat), len(cum)) {
			var row [4]string
			if i < len(flat) {
				row[0], row[1] = "`"+shortName(flat[i].name)+"`", share(flat[i].flat)
			}
			if i < len(cum) {
				row[2], row[3] = "`"+shortName(cum[i].name)+"`", share(cum[i].cum)
			}
			w("| %s |\n", strings.Join(row[:], " | "))
		}
		w("\n")
	}
}

// shortName drops the module path of a function name and shortens generic
// shapes, which are long and unreadable in a table.
func shortName(name string) string {
	if i := strings.Index(name, "[go.shape"); i >= 0 {
		if j := strings.LastIndex(name, "]"); j > i {
			name = name[:i] + "[...]" + name[j+1:]
		}
	}
	head := name
	if i := strings.IndexAny(name, "(["); i >= 0 {
		head = name[:i]
	}
	if i := strings.LastIndex(head, "/"); i >= 0 {
		return name[i+1:]
	}
	return name
}

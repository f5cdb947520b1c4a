package discover

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// unitSuffixes are the unit types that own a cgroup.
var unitSuffixes = []string{".service", ".scope", ".slice", ".socket", ".mount", ".swap"}

// unitFileDirs are where systemd reads unit files, transient ones included.
var unitFileDirs = []string{
	"/etc/systemd/system", "/run/systemd/system", "/run/systemd/transient",
	"/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
}

// Units selects the processes of systemd units by name (--systemd-units).
// A unit is found wherever it sits in the tree (system.slice, user.slice,
// machine.slice, nested slices), in cgroup v2 and in v1's name=systemd
// hierarchy, and with everything below it: a process is in a unit when a
// component of its cgroup path is the unit's name.
//
// Units decides from a cgroup path alone, so a unit that starts or restarts
// after the agent, and a process that joins a unit later, are found on
// their first sample without the agent watching anything.
type Units struct {
	set map[string]bool
}

// NewUnits takes the units named by --systemd-units; each value may hold
// several names separated by commas. A name without a unit suffix means a
// service, as it does to systemctl.
func NewUnits(values ...string) (*Units, error) {
	u := &Units{set: map[string]bool{}}
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if strings.ContainsAny(name, "/ \t\n") {
				return nil, fmt.Errorf("--systemd-units: %q is not a unit name (a unit name has no slashes or spaces, e.g. nginx.service)", name)
			}
			if unitSuffix(name) == "" {
				name += ".service"
			}
			u.set[name] = true
		}
	}
	if len(u.set) == 0 {
		return nil, errors.New("--systemd-units: no unit named (give e.g. --systemd-units=nginx.service,docker-<id>.scope)")
	}
	return u, nil
}

// Names are the selected units, sorted.
func (u *Units) Names() []string {
	names := make([]string, 0, len(u.set))
	for n := range u.set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Unit is the selected unit a cgroup path lies in: the deepest component
// of the path that is a selected unit.
func (u *Units) Unit(cgroupPath string) (string, bool) {
	for p := cgroupPath; p != "" && p != "/"; {
		i := strings.LastIndexByte(p, '/')
		if u.set[p[i+1:]] {
			return p[i+1:], true
		}
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return "", false
}

// UnitLabels are the labels of a unit's profiles: systemd_unit, and
// service_name, the unit's name without its suffix (nginx for nginx.service).
func UnitLabels(unit string) map[string]string {
	return map[string]string{
		"systemd_unit": unit,
		"service_name": strings.TrimSuffix(unit, unitSuffix(unit)),
	}
}

func unitSuffix(name string) string {
	for _, s := range unitSuffixes {
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			return s
		}
	}
	return ""
}

// UnitProc is a process found in a selected unit.
type UnitProc struct {
	PID    int
	Unit   string
	Cgroup string // the process's cgroup, from the hierarchy's root
}

// Procs lists the processes in the selected units now, from the cgroup v2
// hierarchy and the v1 name=systemd one, each process once. It is for the
// start of a run (and for samplers that follow PIDs); processes that come
// later are found by their cgroup, see [Units.Unit].
func (u *Units) Procs(m Mounts) ([]UnitProc, error) {
	seen := map[int]bool{}
	var procs []UnitProc
	for _, root := range []string{m.Unified, m.Systemd} {
		if root == "" {
			continue
		}
		err := walkCgroups(root, func(rel string) {
			unit, ok := u.Unit(rel)
			if !ok {
				return
			}
			pids, err := readPIDs(filepath.Join(root, rel, "cgroup.procs"))
			if err != nil {
				return // removed while we walked
			}
			for _, pid := range pids {
				if !seen[pid] {
					seen[pid] = true
					procs = append(procs, UnitProc{PID: pid, Unit: unit, Cgroup: rel})
				}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return procs, nil
}

// UnknownUnitError says a selected unit exists nowhere on this machine.
type UnknownUnitError struct {
	Unit    string
	Nearest []string // existing units with the nearest names, nearest first
}

func (e *UnknownUnitError) Error() string {
	s := fmt.Sprintf("--systemd-units: unit %s not found: no cgroup of that name under the cgroup mounts and no unit file in %s", e.Unit, strings.Join(unitFileDirs, ", "))
	if len(e.Nearest) > 0 {
		s += "; units with near names: " + strings.Join(e.Nearest, ", ")
	}
	return s
}

// Check returns an [*UnknownUnitError] for each selected unit that neither
// runs now (has a cgroup) nor has a unit file, joined. A unit with a unit
// file that is not running is fine: it is found when it starts.
func (u *Units) Check(m Mounts) error {
	existing := map[string]bool{}
	for _, root := range []string{m.Unified, m.Systemd} {
		if root == "" {
			continue
		}
		if err := walkCgroups(root, func(rel string) {
			if name := filepath.Base(rel); unitSuffix(name) != "" {
				existing[name] = true
			}
		}); err != nil {
			return err
		}
	}
	for _, dir := range unitFileDirs {
		entries, _ := os.ReadDir(dir) // most of them do not exist
		for _, e := range entries {
			if unitSuffix(e.Name()) != "" {
				existing[e.Name()] = true
			}
		}
	}
	var errs []error
	for _, name := range u.Names() {
		if !existing[name] {
			errs = append(errs, &UnknownUnitError{Unit: name, Nearest: nearest(name, existing, 3)})
		}
	}
	return errors.Join(errs...)
}

// nearest are up to n of the names closest to name by edit distance, and
// no farther than half its length.
func nearest(name string, names map[string]bool, n int) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for other := range names {
		if d := editDistance(name, other); d <= max(3, len(name)/2) {
			cs = append(cs, cand{other, d})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// editDistance is the optimal-string-alignment distance of a and b, in
// bytes: insertions, deletions, substitutions and swaps of neighbours (the
// typos people make) cost one each.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

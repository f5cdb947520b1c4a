package discover

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestNewUnits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		values  []string
		want    []string
		wantErr string
	}{
		{"commas and repeats", []string{"a.service,b.scope", "c.slice", "a.service"}, []string{"a.service", "b.scope", "c.slice"}, ""},
		{"no suffix means a service, as to systemctl", []string{"nginx"}, []string{"nginx.service"}, ""},
		{"the seed's docker scope", []string{"docker-b8873e261a9fb63e83d3d865a8780066e12e55b2f7eb8f6ac87db0b08444c6a8.scope"},
			[]string{"docker-b8873e261a9fb63e83d3d865a8780066e12e55b2f7eb8f6ac87db0b08444c6a8.scope"}, ""},
		{"spaces around names", []string{" a.service , b.service "}, []string{"a.service", "b.service"}, ""},
		{"a path is no unit", []string{"system.slice/a.service"}, nil, `--systemd-units: "system.slice/a.service" is not a unit name`},
		{"nothing named", []string{",", ""}, nil, "--systemd-units: no unit named"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := NewUnits(tc.values...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewUnits(%q) = %v, want an error with %q", tc.values, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(u.Names(), tc.want) {
				t.Errorf("NewUnits(%q) = %v, %v; want %v", tc.values, u.Names(), err, tc.want)
			}
		})
	}
}

func TestUnitOfPath(t *testing.T) {
	u, _ := NewUnits("sshd.service", "foo.service", "user@1000.service", "docker-abc.scope", "machine-qemu.scope")
	for _, tc := range []struct{ path, want string }{
		{"/system.slice/sshd.service", "sshd.service"},
		{"/system.slice/sshd.service/payload", "sshd.service"},
		{"/system.slice/sshd.service.d", ""},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", "foo.service"},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/bar.service", "user@1000.service"},
		{"/system.slice/docker-abc.scope", "docker-abc.scope"},
		{"/machine.slice/machine-qemu.scope/libvirt/vcpu0", "machine-qemu.scope"},
		{"/a.slice/b.slice/c.slice/foo.service", "foo.service"},
		{"/system.slice/cron.service", ""},
		{"/", ""},
		{"", ""},
	} {
		got, ok := u.Unit(tc.path)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Unit(%q) = %q, %v; want %q", tc.path, got, ok, tc.want)
		}
	}
}

func TestUnitLabels(t *testing.T) {
	for unit, svc := range map[string]string{"nginx.service": "nginx", "docker-abc.scope": "docker-abc", "user@1000.service": "user@1000", "batch.slice": "batch"} {
		want := map[string]string{"systemd_unit": unit, "service_name": svc}
		if got := UnitLabels(unit); !maps.Equal(got, want) {
			t.Errorf("UnitLabels(%q) = %v, want %v", unit, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"nginx.service", "nginx.servce", 1}, {"kitten", "sitting", 3}, {"web", "wbe", 1}} {
		if d := editDistance(tc.a, tc.b); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}

// unitCgroups are real cgroups laid out as systemd lays out units: in
// system.slice, in a user's slice below the user's manager, in
// machine.slice, and in nested slices.
type unitCgroups struct {
	m     Mounts
	tag   string
	paths map[string]string // unit name → cgroup path
}

func makeUnits(t *testing.T, m Mounts) unitCgroups {
	tag := randHex(5)
	u := unitCgroups{m: m, tag: tag, paths: map[string]string{}}
	for _, p := range []string{
		"/system.slice/ptest-" + tag + "-a.service",
		"/user.slice/user-4242.slice/user@4242.service/app.slice/ptest-" + tag + "-b.service",
		"/machine.slice/ptest-" + tag + "-vm.scope",
		"/ptest.slice/ptest-" + tag + ".slice/ptest-" + tag + "-inner.slice/ptest-" + tag + "-c.service",
		"/system.slice/ptest-" + tag + "-other.service", // not selected
	} {
		makeCgroup(t, m.Unified, p)
		u.paths[p[strings.LastIndexByte(p, '/')+1:]] = p
	}
	return u
}

func (u unitCgroups) name(s string) string { return "ptest-" + u.tag + "-" + s }

// TestUnitsFindTheirProcesses runs a process in each unit and one outside
// the chosen ones, and checks what the agent would see: each process
// under its unit with its labels, on its first "sample" (the cgroup ID of
// the process resolved to a path), and nothing of the unit not chosen.
func TestUnitsFindTheirProcesses(t *testing.T) {
	m := writableMounts(t)
	cg := makeUnits(t, m)
	chosen := []string{cg.name("a") + ".service", cg.name("b") + ".service", cg.name("vm") + ".scope", cg.name("c") + ".service"}
	units, err := NewUnits(strings.Join(chosen, ","))
	if err != nil {
		t.Fatal(err)
	}
	if err := units.Check(Mounts{Unified: m.Unified}); err != nil {
		t.Errorf("Check of running units: %v", err)
	}
	want := map[int]string{}
	for _, unit := range chosen {
		want[startChild(t, m.Unified+cg.paths[unit])] = unit
	}
	other := startChild(t, m.Unified+cg.paths[cg.name("other")+".service"])

	procs, err := units.Procs(Mounts{Unified: m.Unified})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]string{}
	for _, p := range procs {
		got[p.PID] = p.Unit
	}
	if !maps.Equal(got, want) {
		t.Errorf("Procs = %v, want %v (the process of the unit not chosen is %d)", got, want, other)
	}

	cgroups, err := NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	defer cgroups.Close()
	f := Finder{Node: "n1", Units: units}
	for pid, unit := range want {
		tgt := sampleTarget(t, &f, cgroups, pid)
		wantLabels := map[string]string{"node": "n1", "systemd_unit": unit, "service_name": strings.TrimSuffix(strings.TrimSuffix(unit, ".service"), ".scope")}
		if !maps.Equal(tgt.Labels, wantLabels) {
			t.Errorf("process %d: labels %v, want %v", pid, tgt.Labels, wantLabels)
		}
	}
	if tgt, ok := f.Target(procCgroup(t, other)); ok {
		t.Errorf("process %d outside the chosen units is a target: %v", other, tgt)
	}
}

// TestUnitStartedLater starts a unit, and a second process in it, after
// discovery was set up, and restarts it (a new cgroup at the same path).
func TestUnitStartedLater(t *testing.T) {
	m := writableMounts(t)
	tag := randHex(5)
	unit := "ptest-" + tag + "-late.service"
	rel := "/system.slice/" + unit
	units, _ := NewUnits(unit)
	cgroups, err := NewCgroups(m.Unified)
	if err != nil {
		t.Fatal(err)
	}
	defer cgroups.Close()
	f := Finder{Node: "n1", Units: units}

	var nf *UnknownUnitError
	if err := units.Check(Mounts{Unified: m.Unified}); !errors.As(err, &nf) || nf.Unit != unit {
		t.Errorf("Check before the unit started = %v, want an UnknownUnitError for %s", err, unit)
	}

	dir := makeCgroup(t, m.Unified, rel)
	first := startChild(t, dir)
	second := startChild(t, dir) // joins later
	for _, pid := range []int{first, second} {
		if tgt := sampleTarget(t, &f, cgroups, pid); tgt.Labels["systemd_unit"] != unit {
			t.Errorf("process %d of the unit started later: labels %v", pid, tgt.Labels)
		}
	}
	if err := units.Check(Mounts{Unified: m.Unified}); err != nil {
		t.Errorf("Check once the unit runs: %v", err)
	}
}

// TestUnitsOnTheV1SystemdHierarchy moves a process into a unit of the
// name=systemd hierarchy only, as on a cgroup v1 machine, and finds it there.
func TestUnitsOnTheV1SystemdHierarchy(t *testing.T) {
	m := writableV1Mounts(t)
	unit := "ptest-" + randHex(5) + "-v1.service"
	rel := "/system.slice/" + unit
	dir := makeCgroup(t, m.Systemd, rel)
	pid := startChild(t, dir)
	units, _ := NewUnits(unit)

	procs, err := units.Procs(Mounts{Systemd: m.Systemd})
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 1 || procs[0] != (UnitProc{PID: pid, Unit: unit, Cgroup: rel}) {
		t.Errorf("Procs on name=systemd = %+v, want process %d in %s", procs, pid, rel)
	}
	pc, err := ReadProcCgroup(pid)
	if err != nil {
		t.Fatal(err)
	}
	f := Finder{Node: "n1", Units: units}
	if tgt, ok := f.Target(pc.Systemd); !ok || tgt.Labels["systemd_unit"] != unit {
		t.Errorf("Target(%q) = %v, %v; want unit %s", pc.Systemd, tgt, ok, unit)
	}
	if err := units.Check(Mounts{Systemd: m.Systemd}); err != nil {
		t.Errorf("Check on name=systemd: %v", err)
	}
}

func TestUnknownUnitNamesTheNearest(t *testing.T) {
	m := writableMounts(t)
	tag := randHex(5)
	makeCgroup(t, m.Unified, "/system.slice/ptest-"+tag+"-web.service")
	makeCgroup(t, m.Unified, "/system.slice/ptest-"+tag+"-db.service")
	typo := "ptest-" + tag + "-wbe.service"
	units, _ := NewUnits(typo)
	err := units.Check(Mounts{Unified: m.Unified})
	var nf *UnknownUnitError
	if !errors.As(err, &nf) {
		t.Fatalf("Check(%s) = %v, want an UnknownUnitError", typo, err)
	}
	msg := err.Error()
	for _, want := range []string{"--systemd-units", "unit " + typo + " not found", "ptest-" + tag + "-web.service"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if nf.Nearest[0] != "ptest-"+tag+"-web.service" {
		t.Errorf("nearest names %v, want ptest-%s-web.service first", nf.Nearest, tag)
	}
}

// sampleTarget does what the agent does with a sample of process pid: it
// takes the ID of the process's cgroup (what PERF_SAMPLE_CGROUP reports),
// resolves it to a path and asks the Finder.
func sampleTarget(t *testing.T, f *Finder, c *Cgroups, pid int) Target {
	t.Helper()
	id := cgroupIno(t, c.Mount()+procCgroup(t, pid))
	path, err := c.Path(id)
	if err != nil {
		t.Fatalf("process %d: cgroup ID %d: %v", pid, id, err)
	}
	tgt, ok := f.Target(path)
	if !ok {
		t.Fatalf("process %d in %s is no target", pid, path)
	}
	return tgt
}

func procCgroup(t *testing.T, pid int) string {
	t.Helper()
	pc, err := ReadProcCgroup(pid)
	if err != nil {
		t.Fatal(err)
	}
	return pc.Unified
}

// TestUnitsOnAHybridMachine puts a process in a unit of both hierarchies,
// as systemd does on a hybrid machine: Procs lists it once.
func TestUnitsOnAHybridMachine(t *testing.T) {
	m := writableV1Mounts(t)
	unit := "ptest-" + randHex(5) + "-hybrid.service"
	rel := "/system.slice/" + unit
	pid := startChild(t, makeCgroup(t, m.Unified, rel), makeCgroup(t, m.Systemd, rel))
	units, _ := NewUnits(unit)
	procs, err := units.Procs(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := []UnitProc{{PID: pid, Unit: unit, Cgroup: rel}}; !slices.Equal(procs, want) {
		t.Errorf("Procs = %+v, want %+v", procs, want)
	}
	pc, _ := ReadProcCgroup(pid)
	if pc.Unified != rel || pc.Systemd != rel {
		t.Errorf("ReadProcCgroup(%d) = %+v, want %s in both", pid, pc, rel)
	}
}

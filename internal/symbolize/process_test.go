package symbolize

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// stop kills the child and waits for it, so that its /proc entries are gone.
func (c *child) stop(t *testing.T) {
	t.Helper()
	c.cmd.Process.Kill()
	c.cmd.Wait()
	if _, err := os.Stat("/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/maps"); err == nil {
		t.Fatalf("pid %d still has a memory map after Wait", c.cmd.Process.Pid)
	}
}

// TestLookupAfterExit symbolizes a process whose binary was never read
// while it lived: the file is found again by its path and inode.
func TestLookupAfterExit(t *testing.T) {
	c := startChild(t, buildC(t, "testdata/cfuncs/main.c"))
	s := New()
	defer s.Close()
	p, err := s.Process(c.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	alpha, getpid := c.field(t, "alpha"), c.field(t, "getpid")
	c.stop(t)
	for addr, want := range map[uint64]string{alpha: "alpha_function", getpid: "getpid"} {
		m, frames := p.Lookup(addr)
		if m == nil || m.BuildID == "" || len(frames) != 1 || !strings.Contains(frames[0].Function, want) {
			t.Errorf("after exit, Lookup(%#x) = %+v, %+v; want %s in a mapping with a build ID", addr, m, frames, want)
		}
	}
}

// TestReplacedFileIsNotRead checks that a path which names another file by
// the time the process is symbolized (a rebuilt binary) is not read as the
// one that was mapped.
func TestReplacedFileIsNotRead(t *testing.T) {
	bin := buildC(t, "testdata/cfuncs/main.c")
	c := startChild(t, bin)
	p, err := New().Process(c.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	alpha := c.field(t, "alpha")
	c.stop(t)
	other := buildGo(t, "testdata/goinline")
	if err := os.Rename(other, bin); err != nil {
		t.Fatal(err)
	}
	if m, frames := p.Lookup(alpha); m == nil || len(frames) != 0 {
		t.Errorf("Lookup(%#x) in a replaced binary = %+v, %+v; want its mapping and no frames", alpha, m, frames)
	}
}

// TestMapReplacesOverlaps feeds a model mappings as the kernel reports
// them: a later mapping over part of an earlier one keeps the rest.
func TestMapReplacesOverlaps(t *testing.T) {
	p := New().NewProcess(1)
	p.Map(Mapping{Start: 0x1000, Limit: 0x5000, Offset: 0, Path: "/a", Inode: 1})
	p.Map(Mapping{Start: 0x2000, Limit: 0x3000, Offset: 0x100000, Path: "/b", Inode: 2})
	p.Map(Mapping{Start: 0x6000, Limit: 0x7000, Path: "//anon"})
	got := p.Mappings()
	want := []Mapping{
		{Start: 0x1000, Limit: 0x2000, Offset: 0, Path: "/a", Inode: 1},
		{Start: 0x2000, Limit: 0x3000, Offset: 0x100000, Path: "/b", Inode: 2},
		{Start: 0x3000, Limit: 0x5000, Offset: 0x2000, Path: "/a", Inode: 1},
		{Start: 0x6000, Limit: 0x7000, Path: "//anon"},
	}
	checkMappings(t, "Mappings", got, want)
	child := p.Fork(2)
	child.Map(Mapping{Start: 0x1000, Limit: 0x7000, Path: "/c", Inode: 3})
	if n := len(p.Mappings()); n != 4 {
		t.Errorf("the parent has %d mappings after its child mapped over them, want 4", n)
	}
	if m, _ := child.Lookup(0x2500); m == nil || m.Path != "/c" {
		t.Errorf("child's mapping at 0x2500 = %+v, want /c", m)
	}
	if got := child.Exec().Mappings(); len(got) != 0 {
		t.Errorf("after exec: %+v, want no mappings", got)
	}
}

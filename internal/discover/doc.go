// Package discover finds what a node agent profiles: the cgroups of systemd
// units and of Kubernetes containers, and the labels their profiles carry.
// It knows cgroup trees, /proc and the Kubernetes API; it knows nothing of
// perf events, profile backends or their tokens.
//
// The agent is expected to use it like this:
//
//   - At start: [FindMounts], [NewCgroups] on the cgroup v2 mount, [NewUnits]
//     for --systemd-units (and [Units.Check] to report unknown names), and
//     for Kubernetes a [PodWatch] (with [InClusterConfig]) filling [Pods];
//     wait for [PodWatch.Ready] before the first window. A [Finder] puts
//     them together.
//   - Sampling per CPU with PERF_SAMPLE_CGROUP: on a cgroup ID not seen
//     before, [Cgroups.Path] then [Finder.Target]; cache the answer by ID
//     and drop the answers about containers when [Pods.Changed] fires (a
//     pod reported a container late, or ended). Nothing needs polling:
//     a unit or container that starts later is found on its first sample.
//   - Where the cgroup ID is not the unit's (a v1 machine, where systemd's
//     tree is name=systemd), or to follow PIDs: [ReadProcCgroup] on a new
//     PID and [Finder.Target] of its path; [Units.Procs] lists what runs
//     in the units at start.
package discover

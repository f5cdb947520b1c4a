//go:build go1.27 && !go1.28 && !pyroscope_publicapi

package collect

// memRecord mirrors internal/profilerecord.MemProfileRecord of Go 1.27
// (internal/profilerecord/profilerecord.go, checked against go1.27.4): one
// object size per record instead of byte counts, as runtime.MemProfile and
// runtime/pprof compute them (objects × ObjectSize).
type memRecord struct {
	ObjectSize                int64
	AllocObjects, FreeObjects int64
	Stack                     []uintptr
}

func (r *memRecord) objectSize() int64 { return r.ObjectSize }
func (r *memRecord) allocBytes() int64 { return r.AllocObjects * r.ObjectSize }
func (r *memRecord) freeBytes() int64  { return r.FreeObjects * r.ObjectSize }

//go:build go1.25 && !go1.27 && !pyroscope_publicapi

package collect

// memRecord mirrors internal/profilerecord.MemProfileRecord of Go 1.25 and
// Go 1.26 (internal/profilerecord/profilerecord.go, checked against go1.25.14
// and go1.26.11): byte counts are kept per record.
type memRecord struct {
	AllocBytes, FreeBytes     int64
	AllocObjects, FreeObjects int64
	Stack                     []uintptr
}

// objectSize returns the size of the record's objects. The runtime keeps one
// record per stack and object size, so the average is exact. AllocObjects
// must not be 0.
func (r *memRecord) objectSize() int64 { return r.AllocBytes / r.AllocObjects }

func (r *memRecord) allocBytes() int64 { return r.AllocBytes }
func (r *memRecord) freeBytes() int64  { return r.FreeBytes }

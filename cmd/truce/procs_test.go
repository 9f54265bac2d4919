package main

import (
	"os"
	"runtime"
	"testing"
	"testing/fstest"
)

func TestServeProcs(t *testing.T) {
	for _, c := range []struct {
		envSet, quota  bool
		current, cores int
		want           int
	}{
		{false, false, 2, 2, 3}, // no limit: a spare P
		{false, false, 16, 16, 17},
		{true, false, 2, 2, 2}, // GOMAXPROCS in the environment decides
		{true, false, 8, 2, 8},
		{false, true, 2, 2, 2},  // a quota of one core on two: Go's default is still 2
		{false, true, 3, 16, 3}, // a quota of 2.5 cores (Go rounds up)
		{false, false, 3, 4, 3}, // an affinity or other limit Go already applied
	} {
		if got := serveProcs(c.envSet, c.quota, c.current, c.cores); got != c.want {
			t.Errorf("serveProcs(env set %v, quota %v, current %d, cores %d) = %d, want %d", c.envSet, c.quota, c.current, c.cores, got, c.want)
		}
	}
}

func TestCPUQuota(t *testing.T) {
	for _, c := range []struct {
		name  string
		files fstest.MapFS
		want  bool
	}{
		{"no cgroup files", fstest.MapFS{}, false},
		{"v2 without a quota", fstest.MapFS{
			"proc/self/cgroup":      {Data: []byte("0::/\n")},
			"sys/fs/cgroup/cpu.max": {Data: []byte("max 100000\n")},
		}, false},
		{"v2 container with a quota", fstest.MapFS{
			"proc/self/cgroup":      {Data: []byte("0::/\n")},
			"sys/fs/cgroup/cpu.max": {Data: []byte("100000 100000\n")},
		}, true},
		{"v2 quota on an ancestor of the process's cgroup", fstest.MapFS{
			"proc/self/cgroup":                       {Data: []byte("0::/kubepods/pod1/c1\n")},
			"sys/fs/cgroup/cpu.max":                  {Data: []byte("max 100000\n")},
			"sys/fs/cgroup/kubepods/pod1/cpu.max":    {Data: []byte("150000 100000\n")},
			"sys/fs/cgroup/kubepods/pod1/c1/cpu.max": {Data: []byte("max 100000\n")},
		}, true},
		{"v1 without a quota", fstest.MapFS{
			"proc/self/cgroup":                           {Data: []byte("4:memory:/x\n1:cpu,cpuacct:/\n")},
			"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": {Data: []byte("-1\n")},
		}, false},
		{"v1 with a quota under the process's path", fstest.MapFS{
			"proc/self/cgroup":                              {Data: []byte("1:cpu:/docker/abc\n")},
			"sys/fs/cgroup/cpu/cpu.cfs_quota_us":            {Data: []byte("-1\n")},
			"sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us": {Data: []byte("50000\n")},
		}, true},
		{"a namespaced path that climbs out", fstest.MapFS{
			"proc/self/cgroup":      {Data: []byte("0::/../../..\n")},
			"sys/fs/cgroup/cpu.max": {Data: []byte("max 100000\n")},
		}, false},
	} {
		if got := cpuQuota(c.files); got != c.want {
			t.Errorf("%s: cpuQuota = %v, want %v", c.name, got, c.want)
		}
	}
	t.Logf("this machine: CPU quota %v", cpuQuota(os.DirFS("/")))
}

// TestUseSpareProc: without GOMAXPROCS in the environment serve runs one P
// more than Go's default (when that default is every core), and undo gives
// the default back; with GOMAXPROCS set it changes nothing.
func TestUseSpareProc(t *testing.T) {
	t.Setenv("GOMAXPROCS", "") // restored after the test
	os.Unsetenv("GOMAXPROCS")
	runtime.SetDefaultGOMAXPROCS()
	defer runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	if def != runtime.NumCPU() || cpuQuota(os.DirFS("/")) {
		t.Skipf("a CPU limit applies here (Go's default GOMAXPROCS %d, %d cores), so serve keeps the default", def, runtime.NumCPU())
	}
	undo := useSpareProc()
	if got := runtime.GOMAXPROCS(0); got != def+1 {
		t.Errorf("GOMAXPROCS = %d with a spare P, want %d", got, def+1)
	}
	undo()
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Errorf("after undo GOMAXPROCS = %d, want the default %d", got, def)
	}

	os.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	useSpareProc()()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("with GOMAXPROCS=1 in the environment serve set GOMAXPROCS to %d", got)
	}
}

package cluster

import "testing"

func TestEngineWhereAndLocal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		host, where string
		local       bool
	}{
		{"", "the local Docker engine", true},
		{"unix:///run/user/1000/docker.sock", "the Docker engine at unix:///run/user/1000/docker.sock", true},
		{"ssh://ckalab@engine", "the Docker engine at ssh://ckalab@engine", false},
		{"tcp://engine:2376", "the Docker engine at tcp://engine:2376", false},
	} {
		e := Engine{Host: tt.host}
		if e.Where() != tt.where || e.Local() != tt.local {
			t.Errorf("%q: %q %v", tt.host, e.Where(), e.Local())
		}
	}
}

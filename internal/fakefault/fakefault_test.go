package fakefault

import "testing"

func TestRegistry(t *testing.T) {
	t.Parallel()
	var r Registry[string]
	any := func(string) bool { return true }
	removeA := r.Add("a", 2)
	r.Add("b", 0)
	for _, want := range []string{"a", "a", "b", "b"} {
		if got, ok := r.Take(any); !ok || got != want {
			t.Fatalf("got %q %v, want %q", got, ok, want)
		}
	}
	removeA()
	if got, _ := r.Take(func(f string) bool { return f == "a" }); got != "" {
		t.Fatal("removed fault matched")
	}
	r.Clear()
	if _, ok := r.Take(any); ok {
		t.Fatal("cleared registry matched")
	}
}

package merge_test

import (
	"fmt"

	"github.com/trucedb/truce/merge"
)

func ExampleDiff() {
	from := []byte(`{"title":"Draft","tags":["a"],"owner":{"name":"ann","team/role":"dev"},"n":1}`)
	to := []byte(`{"title":"Final","tags":["a","b"],"owner":{"name":"ann","team/role":"lead"},"n":1.0,"done":true}`)
	patch, err := merge.Diff(from, to)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(patch))
	// Output:
	// [{"op":"add","path":"/done","value":true},{"op":"replace","path":"/owner/team~1role","value":"lead"},{"op":"replace","path":"/tags","value":["a","b"]},{"op":"replace","path":"/title","value":"Final"}]
}

func ExampleEqual() {
	eq, err := merge.Equal([]byte(`{"a":1,"b":[12345678901234567890]}`), []byte(`{"b":[12345678901234567890.0],"a":1e0}`))
	fmt.Println(eq, err)
	// Output: true <nil>
}

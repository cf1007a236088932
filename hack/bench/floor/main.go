// Command floor is the benchmarks' floor: the least a credential provider plugin can do. It
// decodes the request on stdin with encoding/json, checks its kind, and writes a fixed
// response in the request's apiVersion. Nothing else: no flags, no logger, no cache, no
// apimachinery. Every figure of hack/bench is given as a ratio to this program's, measured in
// the same run.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func main() {
	var req struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Image      string `json:"image"`
	}
	data, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = json.Unmarshal(data, &req)
	}
	if err == nil && (req.Kind != "CredentialProviderRequest" || req.Image == "") {
		err = fmt.Errorf("not a credential provider request")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stdout, `{"kind":"CredentialProviderResponse","apiVersion":%q,"cacheKeyType":"Registry","cacheDuration":"1h0m0s","auth":{"floor.invalid":{"username":"floor","password":"floor"}}}`+"\n", req.APIVersion)
}

package dockercfg_test

import (
	"context"
	"fmt"

	"github.com/pullkeys/pullkeys/dockercfg"
)

// A document from anywhere (here, what a GCE instance's google-dockercfg metadata attribute
// might hold) is parsed once and resolved per image. Only the matching entries come back.
func ExampleResolve() {
	doc := []byte(`{
		"auths": {
			"https://index.docker.io/v1/": {"auth": "aHViLXVzZXI6aHViLXBhc3M="},
			"*.corp.example.io": {"username": "corp-user", "password": "corp-pass"},
			"registry.example.io": {"auth": "cmVnLXVzZXI6cmVnLXBhc3M"}
		}
	}`)
	cfg, err := dockercfg.Parse(doc, "metadata google-dockercfg")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, image := range []string{"registry.example.io/team/app", "build.corp.example.io/tool", "docker.io/library/nginx", "quay.io/x/y"} {
		// ResolveOptions{} runs no credential helpers: right for a document from elsewhere.
		auth, err := dockercfg.Resolve(context.Background(), image, []*dockercfg.Config{cfg}, dockercfg.ResolveOptions{})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(image, auth, dockercfg.CacheKeyType(image, []*dockercfg.Config{cfg}))
	}
	// Output:
	// registry.example.io/team/app map[registry.example.io:{reg-user reg-pass}] Registry
	// build.corp.example.io/tool map[*.corp.example.io:{corp-user corp-pass}] Registry
	// docker.io/library/nginx map[index.docker.io:{hub-user hub-pass}] Registry
	// quay.io/x/y map[] Registry
}

// Parse reads both shapes of docker config and says what it skipped, never quoting a value.
func ExampleParse() {
	legacy := []byte(`{
		"registry.example.io": {"auth": "dXNlcjpwYXNz", "email": "ops@example.io"},
		"broken.example.io": {"auth": "bm8gY29sb24="}
	}`)
	cfg, err := dockercfg.Parse(legacy, "/root/.dockercfg")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Format)
	for _, e := range cfg.Entries {
		fmt.Println(e.Key, e.Username)
	}
	for _, w := range cfg.Warnings {
		fmt.Println(w)
	}

	_, err = dockercfg.Parse([]byte(`{"auths": {"a.io": {"password": "hunter2`), "/root/.docker/config.json")
	fmt.Println(err)
	// Output:
	// .dockercfg
	// registry.example.io user
	// key broken.example.io: invalid auth field: no colon in the decoded value (want base64 of user:password): skipped
	// parse /root/.docker/config.json: malformed docker config: invalid JSON at line 1, column 40
}

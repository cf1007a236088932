package pullsecret

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for a person: a header naming the Secret, the findings, the
// registries in the kubelet's order with what each serves, the images asked about, and a
// verdict line.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "%s:%s\n", r.Source, r.header())
	for _, f := range r.Findings {
		fmt.Fprintf(b, "  %s\n", f)
	}
	if len(r.Registries) > 0 {
		fmt.Fprintf(b, "registries, in the order the kubelet tries them:\n")
		for _, reg := range r.Registries {
			fmt.Fprintf(b, "  %s\n", reg.Key)
			creds := []string{fmt.Sprintf("user %q", reg.Username), "password " + reg.Password}
			if reg.Email != "" {
				creds = append(creds, fmt.Sprintf("email %q", reg.Email))
			}
			fmt.Fprintf(b, "    %s\n", strings.Join(creds, ", "))
			if reg.Pattern == "" {
				fmt.Fprintf(b, "    serves no image: the kubelet cannot use the key\n")
				continue
			}
			if reg.Pattern != reg.Key {
				fmt.Fprintf(b, "    matched as %s\n", reg.Pattern)
			}
			fmt.Fprintf(b, "    serves %s\n", reg.Matches)
		}
	}
	if len(r.Images) > 0 {
		if r.secretErrors() > 0 {
			fmt.Fprintf(b, "images (as the kubelet would match them once the errors are fixed):\n")
		} else {
			fmt.Fprintf(b, "images:\n")
		}
		for _, img := range r.Images {
			if img.Normalized == "" {
				fmt.Fprintf(b, "  %s: not an image reference\n", img.Image)
				continue
			}
			if img.Normalized != img.Image {
				fmt.Fprintf(b, "  %s (sent as %s)\n", img.Image, img.Normalized)
			} else {
				fmt.Fprintf(b, "  %s\n", img.Image)
			}
			switch {
			case len(img.Uses) == 0:
				fmt.Fprintf(b, "    no entry matches: the kubelet hands no credentials from this Secret\n")
				for _, m := range img.Misses {
					fmt.Fprintf(b, "      %s: %s: %s\n", m.Pattern, m.Reason, m.Detail)
				}
			case img.DockerHubFallback:
				fmt.Fprintf(b, "    uses %s (Docker Hub's entry: no key matches, and the image is on Docker Hub)\n", strings.Join(img.Uses, ", "))
			default:
				fmt.Fprintf(b, "    uses %s\n", strings.Join(img.Uses, ", then "))
			}
		}
	}
	switch errs, warns := r.Errors(), r.Warnings(); {
	case errs > 0:
		fmt.Fprintf(b, "%s, %s\n", plural(errs, "error"), plural(warns, "warning"))
	case warns > 0:
		fmt.Fprintf(b, "OK, with %s: a valid image pull secret with %s\n", plural(warns, "warning"), plural(len(r.Registries), "registry"))
	default:
		fmt.Fprintf(b, "OK: a valid image pull secret with %s\n", plural(len(r.Registries), "registry"))
	}
	return b.Flush()
}

func (r *Report) header() string {
	if r.Kind == "" {
		return ""
	}
	s := " " + r.Kind
	if r.Name != "" {
		s += fmt.Sprintf(" %q", r.Name)
	}
	if r.Namespace != "" {
		s += fmt.Sprintf(" in namespace %q", r.Namespace)
	} else if r.Kind == "Secret" {
		s += " (no namespace: kubectl's current one)"
	}
	if r.Type != "" {
		s += ", type " + r.Type
	}
	if r.Key != "" {
		s += ", key " + r.Key
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// secretErrors counts the errors of the Secret itself, not those of images it does not serve.
func (r *Report) secretErrors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SeverityError && !strings.HasPrefix(f.Field, imageField) {
			n++
		}
	}
	return n
}

package cli

import (
	"fmt"
	"strings"

	"github.com/pullkeys/pullkeys/kubelet"
)

func (c *command) images(args []string) error {
	fs := c.newFlagSet("images", "[--root-dir DIR] [-o json] [IMAGE...]", `
Reads, without changing anything, the kubelet's image pull records (KEP-2535, under
<root-dir>/image_manager/) and says for each image the kubelet pulled which credentials pulled
it: node-wide (a credential provider without tokenAttributes, or anonymous: every pod on the
node may use the image), which pull Secrets or service accounts, or none recorded (the kubelet
checks every pod). Images pulled by anything else (pullkeys prepull, a node image) have no
record: the kubelet treats them as preloaded. Images being pulled (pull intents) are listed
too. With IMAGE arguments, only the records of those image names (tag and digest ignored).
Files of a version pullkeys does not know are reported and skipped.`)
	root := fs.String("root-dir", kubelet.DefaultKubeletRootDir, "the kubelet's --root-dir")
	out := outputFlag(fs)
	filter, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, image := range filter {
		name, err := kubelet.TrimTagDigest(image)
		if err != nil {
			return fmt.Errorf("%w: images: %q: %v", errUsage, image, err)
		}
		names[name] = true
	}
	recs, err := kubelet.ReadImageRecords(*root)
	if err != nil {
		return fmt.Errorf("images: %w", err)
	}
	if len(names) > 0 {
		kept := recs.Pulled[:0]
		for _, rec := range recs.Pulled {
			var images []kubelet.RecordImage
			for _, ri := range rec.Images {
				if names[ri.Image] {
					images = append(images, ri)
				}
			}
			if len(images) > 0 {
				rec.Images = images
				kept = append(kept, rec)
			}
		}
		recs.Pulled = kept
	}
	if *out == "json" {
		return c.writeJSON(recs)
	}
	for _, p := range recs.Problems {
		fmt.Fprintf(c.stdout, "%s: %s\n", p.Severity, p)
	}
	for _, rec := range recs.Pulled {
		fmt.Fprintf(c.stdout, "%s (recorded %s)\n", rec.ImageRef, rec.LastUpdated.UTC().Format("2006-01-02T15:04:05Z"))
		if len(rec.Images) == 0 {
			fmt.Fprintf(c.stdout, "  no image name recorded: the kubelet checks every pod's credentials\n")
		}
		for _, ri := range rec.Images {
			switch ri.Access {
			case kubelet.AccessNode:
				fmt.Fprintf(c.stdout, "  %s: node credentials or anonymous: every pod on the node may use it\n", ri.Image)
			case kubelet.AccessPods:
				var who []string
				for _, s := range ri.Secrets {
					who = append(who, "Secret "+s)
				}
				for _, sa := range ri.ServiceAccounts {
					who = append(who, "service account "+sa)
				}
				fmt.Fprintf(c.stdout, "  %s: %s\n", ri.Image, strings.Join(who, ", "))
			default:
				fmt.Fprintf(c.stdout, "  %s: no credentials recorded: the kubelet checks every pod's\n", ri.Image)
			}
		}
	}
	for _, image := range recs.Pulling {
		fmt.Fprintf(c.stdout, "pulling %s (a pull in flight, or interrupted)\n", image)
	}
	fmt.Fprintf(c.stdout, "%s: %d pulled record(s), %d pull(s) in flight\n", recs.Dir, len(recs.Pulled), len(recs.Pulling))
	return nil
}

package content

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strings"
)

// KernelNeed is a Jupyter kernel that notebooks of a workshop run on.
type KernelNeed struct {
	// Kernel is the notebooks' metadata.kernelspec.name, lower-cased (as
	// Jupyter matches it).
	Kernel string
	// Notebooks are the notebooks on it, slash paths in the workshop folder.
	Notebooks []string
}

// kernelspecName finds the kernelspec's name in a notebook that is not
// JSON before it is rendered (a template tag outside a string).
var kernelspecName = regexp.MustCompile(`"kernelspec"\s*:\s*\{[^{}]*?"name"\s*:\s*"([^"\\]+)"`)

// Kernels lists the kernels the notebooks of a workshop folder (src, as for
// Notebooks) ask for, by name. A notebook without a kernelspec asks for
// none (the server offers its default); one that cannot be read is
// skipped: Check reports it.
func Kernels(src fs.FS) []KernelNeed {
	byName := map[string][]string{}
	for _, nb := range Notebooks(src) {
		if k := notebookKernel(src, nb); k != "" {
			byName[k] = append(byName[k], nb)
		}
	}
	needs := make([]KernelNeed, 0, len(byName))
	for k, nbs := range byName {
		needs = append(needs, KernelNeed{Kernel: k, Notebooks: nbs})
	}
	slices.SortFunc(needs, func(a, b KernelNeed) int { return strings.Compare(a.Kernel, b.Kernel) })
	return needs
}

func notebookKernel(src fs.FS, name string) string {
	f, err := src.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxNotebook))
	if err != nil {
		return ""
	}
	var nb struct {
		Metadata struct {
			Kernelspec struct {
				Name string `json:"name"`
			} `json:"kernelspec"`
		} `json:"metadata"`
	}
	if json.Unmarshal(data, &nb) == nil {
		return strings.ToLower(strings.TrimSpace(nb.Metadata.Kernelspec.Name))
	}
	// Templated notebooks are JSON once rendered; the kernelspec is
	// plain text in them.
	if m := kernelspecName.FindSubmatch(data); m != nil {
		return strings.ToLower(strings.TrimSpace(string(m[1])))
	}
	return ""
}

// KernelNames are the names of the needs.
func KernelNames(needs []KernelNeed) []string {
	names := make([]string, 0, len(needs))
	for _, n := range needs {
		names = append(names, n.Kernel)
	}
	return names
}

// MissingKernels says, one line each, which kernels the workshop's
// notebooks need that where lacks, e.g. "WKSHP-GO101: kernel gophernotes
// is not installed on local (2 notebooks)". has tells whether where has a
// kernel.
func MissingKernels(workshop string, needs []KernelNeed, where string, has func(kernel string) bool) []string {
	var lines []string
	for _, n := range needs {
		if !has(n.Kernel) {
			lines = append(lines, fmt.Sprintf("%s: kernel %s is not installed on %s (%s)", workshop, n.Kernel, where,
				plural(len(n.Notebooks), "notebook")))
		}
	}
	return lines
}

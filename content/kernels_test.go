package content

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestKernelNeeds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "WKSHP-GO101")
	mustWrite(t, filepath.Join(dir, MetaFile), "name: Go\n")
	nb := func(kernel string) string {
		return `{"cells": [], "metadata": {"kernelspec": {"display_name": "x", "language": "x", "name": "` + kernel +
			`"}}, "nbformat": 4, "nbformat_minor": 4}`
	}
	mustWrite(t, filepath.Join(dir, "0-ReadMeFirst.ipynb"), nb("bash"))
	mustWrite(t, filepath.Join(dir, "1-WKSHP-Go.ipynb"), nb("gophernotes"))
	mustWrite(t, filepath.Join(dir, "sub", "2-WKSHP-More.ipynb"), nb("Gophernotes"))
	// Not JSON before rendering: the kernelspec is still read.
	mustWrite(t, filepath.Join(dir, "3-WKSHP-Tpl.ipynb"), `{"cells": [{% if MODEWS == 'CHLG' %}{% endif %}],
 "metadata": {"kernelspec": {"display_name": "SSH", "language": "bash", "name": "ssh"}}, "nbformat": 4}`)
	mustWrite(t, filepath.Join(dir, "4-NoKernel.ipynb"), `{"cells": [], "metadata": {}}`)
	mustWrite(t, filepath.Join(dir, ".ipynb_checkpoints", "1-WKSHP-Go-checkpoint.ipynb"), nb("rust"))

	rep, err := Check(dir, Vars{})
	if err != nil {
		t.Fatal(err)
	}
	want := []KernelNeed{
		{Kernel: "bash", Notebooks: []string{"0-ReadMeFirst.ipynb"}},
		{Kernel: "gophernotes", Notebooks: []string{"1-WKSHP-Go.ipynb", "sub/2-WKSHP-More.ipynb"}},
		{Kernel: "ssh", Notebooks: []string{"3-WKSHP-Tpl.ipynb"}},
	}
	if !slices.EqualFunc(rep.Kernels, want, func(a, b KernelNeed) bool {
		return a.Kernel == b.Kernel && slices.Equal(a.Notebooks, b.Notebooks)
	}) {
		t.Fatalf("kernels %+v, want %+v", rep.Kernels, want)
	}
	lines := MissingKernels("WKSHP-GO101", rep.Kernels, "local", func(k string) bool { return k == "bash" })
	if !slices.Equal(lines, []string{
		"WKSHP-GO101: kernel gophernotes is not installed on local (2 notebooks)",
		"WKSHP-GO101: kernel ssh is not installed on local (1 notebook)",
	}) {
		t.Errorf("missing: %q", lines)
	}
}

package wod

import (
	"reflect"
	"slices"
	"strings"
)

// workshopFieldIndex maps the json name of each operator- and content-owned
// field (WorkshopFields) to its index in the Workshop struct.
var workshopFieldIndex = func() map[string]int {
	t := reflect.TypeFor[Workshop]()
	m := make(map[string]int, len(WorkshopFields))
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if slices.Contains(WorkshopFields, name) {
			m[name] = i
		}
	}
	if len(m) != len(WorkshopFields) {
		panic("wod: WorkshopFields and Workshop's json tags disagree")
	}
	return m
}()

// Apply copies the set fields of upd into w and returns the json names of
// the fields whose value changed. LocationID is applied but not reported:
// the location is always the operator's.
func (w *Workshop) Apply(upd WorkshopUpdate) (changed []string) {
	dst := reflect.ValueOf(w).Elem()
	src := reflect.ValueOf(upd)
	for i := range src.NumField() {
		f := src.Field(i)
		if f.Kind() != reflect.Pointer || f.IsNil() {
			continue
		}
		name := src.Type().Field(i).Name
		target := dst.FieldByName(name)
		if !target.IsValid() {
			panic("wod: WorkshopUpdate." + name + " has no Workshop field")
		}
		if reflect.DeepEqual(target.Interface(), f.Elem().Interface()) {
			continue
		}
		target.Set(f.Elem())
		sf, _ := dst.Type().FieldByName(name)
		if tag, _, _ := strings.Cut(sf.Tag.Get("json"), ","); slices.Contains(WorkshopFields, tag) {
			changed = append(changed, tag)
		}
	}
	return changed
}

// UpdatedFields names the json fields that upd sets, changed or not.
func (upd WorkshopUpdate) UpdatedFields() []string {
	var names []string
	src := reflect.ValueOf(upd)
	wt := reflect.TypeFor[Workshop]()
	for i := range src.NumField() {
		f := src.Field(i)
		if f.Kind() != reflect.Pointer || f.IsNil() {
			continue
		}
		sf, ok := wt.FieldByName(src.Type().Field(i).Name)
		if !ok {
			continue
		}
		if tag, _, _ := strings.Cut(sf.Tag.Get("json"), ","); slices.Contains(WorkshopFields, tag) {
			names = append(names, tag)
		}
	}
	return names
}

// Merge takes the content-owned fields of imported into w, except the ones
// listed in w.Overrides, which keep the operator's value. It returns the
// fields that changed and the overridden fields whose content value differs
// (kept as the operator set them).
func (w *Workshop) Merge(imported *Workshop) (changed, kept []string) {
	dst := reflect.ValueOf(w).Elem()
	src := reflect.ValueOf(imported).Elem()
	for _, name := range WorkshopFields {
		i := workshopFieldIndex[name]
		if reflect.DeepEqual(normalizeEmpty(dst.Field(i)), normalizeEmpty(src.Field(i))) {
			continue
		}
		if slices.Contains(w.Overrides, name) {
			kept = append(kept, name)
			continue
		}
		dst.Field(i).Set(src.Field(i))
		changed = append(changed, name)
	}
	return changed, kept
}

// normalizeEmpty makes a nil slice equal to an empty one.
func normalizeEmpty(v reflect.Value) any {
	if v.Kind() == reflect.Slice && v.Len() == 0 {
		return nil
	}
	return v.Interface()
}

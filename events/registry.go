package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrUnknownType is returned when a stored event names a type this binary does not know.
var ErrUnknownType = errors.New("unknown event type")

type typeInfo struct {
	name    string
	version int
	decode  func(json.RawMessage) (any, error)
}

var registry = struct {
	sync.RWMutex
	byType map[reflect.Type]typeInfo
	byName map[string]typeInfo // "Name.vN"
	upcast map[string]Upcaster // "Name.vN" -> lifts to N+1
}{byType: map[reflect.Type]typeInfo{}, byName: map[string]typeInfo{}, upcast: map[string]Upcaster{}}

// Upcaster lifts the payload of one schema version to the next.
type Upcaster func(json.RawMessage) (json.RawMessage, error)

// Register makes T known under a stable name and schema version. Registering the same name with
// a newer version makes that the version written from then on; older versions are read through
// their upcasters.
func Register[T any](name string, version int) {
	registry.Lock()
	defer registry.Unlock()
	info := typeInfo{name: name, version: version, decode: func(raw json.RawMessage) (any, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return v, nil
	}}
	registry.byType[reflect.TypeFor[T]()] = info
	registry.byName[Qualified(name, version)] = info
}

// RegisterUpcaster registers how to lift name.vFrom payloads to name.v(From+1).
func RegisterUpcaster(name string, from int, up Upcaster) {
	registry.Lock()
	defer registry.Unlock()
	registry.upcast[Qualified(name, from)] = up
}

// Current returns every registered type as written from now on ("Name.vN"), sorted.
func Current() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.byType))
	for _, info := range registry.byType {
		out = append(out, Qualified(info.name, info.version))
	}
	slices.Sort(out)
	return out
}

// Qualified is a type name with its schema version, as the log's type header holds it ("Name.vN").
func Qualified(name string, version int) string { return name + ".v" + strconv.Itoa(version) }

// TypeOf returns the registered name and version of an event value.
func TypeOf(e any) (string, int, error) {
	registry.RLock()
	defer registry.RUnlock()
	info, ok := registry.byType[reflect.TypeOf(e)]
	if !ok {
		return "", 0, fmt.Errorf("%w: %T", ErrUnknownType, e)
	}
	return info.name, info.version, nil
}

// Decode turns a stored payload of the qualified type ("Name.vN") into its current Go value,
// upcasting older versions on the way.
func Decode(qualifiedType string, raw json.RawMessage) (any, error) {
	registry.RLock()
	defer registry.RUnlock()
	for range 16 { // bounded: a chain of upcasters never loops
		if info, ok := registry.byName[qualifiedType]; ok {
			if up, older := registry.upcast[qualifiedType]; !older || up == nil {
				v, err := info.decode(raw)
				if err != nil {
					return nil, fmt.Errorf("decode %s: %w", qualifiedType, err)
				}
				return v, nil
			}
		}
		up, ok := registry.upcast[qualifiedType]
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrUnknownType, qualifiedType)
		}
		lifted, err := up(raw)
		if err != nil {
			return nil, fmt.Errorf("upcast %s: %w", qualifiedType, err)
		}
		name, version, err := SplitQualified(qualifiedType)
		if err != nil {
			return nil, err
		}
		raw, qualifiedType = lifted, Qualified(name, version+1)
	}
	return nil, fmt.Errorf("upcast %s: chain too long", qualifiedType)
}

// SplitQualified splits a type header ("Name.vN") into its name and version.
func SplitQualified(q string) (string, int, error) {
	i := strings.LastIndex(q, ".v")
	if i < 0 {
		return "", 0, fmt.Errorf("%w: %s", ErrUnknownType, q)
	}
	v, err := strconv.Atoi(q[i+2:])
	if err != nil {
		return "", 0, fmt.Errorf("%w: %s", ErrUnknownType, q)
	}
	return q[:i], v, nil
}

// Package domain holds erasure's aggregates (Person, Group) and the rules they enforce. It decides
// which events a command produces and rebuilds state from events; it never stores anything.
package domain

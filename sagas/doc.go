// Package sagas holds erasure's process managers: the person-deletion saga and the
// group-deletion saga, and the ports they drive in the downstream stores.
package sagas

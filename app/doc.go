// Package app is erasure's application layer, the one path behind every front door: commands
// load an aggregate from the log, let the domain decide, append with the expected sequence and
// wait until the read model shows the effect; queries ask the read side (projections.Queries),
// which holds every statement over the read model: app holds none. The HTTP surfaces only
// translate their protocols to these calls.
package app

// Package esptest provides a fake esp.DataPlane for tests of the IKE
// engines: it validates and records every call, keeps the installed SAs
// and policies for inspection, lets the test set SA counters (for DPD and
// idle logic) and inject expire and acquire events.
package esptest

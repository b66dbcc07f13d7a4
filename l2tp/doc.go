// Package l2tp implements an L2TP version 2 LNS (RFC 2661) for the L2TP
// clients built into macOS, iOS, Windows and Android.
package l2tp

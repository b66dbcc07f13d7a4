package main

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strings"
)

// plistDict is an ordered property-list dictionary; Apple's profile
// tools keep keys sorted, which makes exported files diff well.
type plistDict []plistEntry

type plistEntry struct {
	Key   string
	Value any // string, int, bool, []byte, plistDict, []any
}

// plistDocument renders v as an XML property list (Apple's PLIST 1.0 DTD).
func plistDocument(v plistDict) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n")
	writePlist(&b, v, 0)
	b.WriteString("</plist>\n")
	return []byte(b.String())
}

func writePlist(b *strings.Builder, v any, depth int) {
	ind := strings.Repeat("\t", depth)
	esc := func(s string) string {
		var e strings.Builder
		_ = xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	switch v := v.(type) {
	case string:
		fmt.Fprintf(b, "%s<string>%s</string>\n", ind, esc(v))
	case int:
		fmt.Fprintf(b, "%s<integer>%d</integer>\n", ind, v)
	case bool:
		if v {
			fmt.Fprintf(b, "%s<true/>\n", ind)
		} else {
			fmt.Fprintf(b, "%s<false/>\n", ind)
		}
	case []byte:
		fmt.Fprintf(b, "%s<data>%s</data>\n", ind, base64.StdEncoding.EncodeToString(v))
	case plistDict:
		fmt.Fprintf(b, "%s<dict>\n", ind)
		for _, e := range v {
			fmt.Fprintf(b, "%s\t<key>%s</key>\n", ind, esc(e.Key))
			writePlist(b, e.Value, depth+1)
		}
		fmt.Fprintf(b, "%s</dict>\n", ind)
	case []any:
		fmt.Fprintf(b, "%s<array>\n", ind)
		for _, e := range v {
			writePlist(b, e, depth+1)
		}
		fmt.Fprintf(b, "%s</array>\n", ind)
	default:
		// Only this file builds plists; a new type is a programming error
		// caught by the tests.
		panic(fmt.Sprintf("plist: unsupported type %T", v))
	}
}

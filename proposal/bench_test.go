package proposal

import "testing"

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"single", "aes256gcm16-prfsha384-ecp384"},
		{"strongswan_default", strongswanIKEClassic + ", " + strongswanIKEAEAD},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.s)))
			for b.Loop() {
				if _, err := Parse(c.s, ProtoIKE); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSelect measures what a responder pays per IKE_SA_INIT.
func BenchmarkSelect(b *testing.B) {
	for _, name := range []string{"ios", "windows", "android"} {
		prof, _ := LookupProfile(name)
		local := CompatibleIKE()
		b.Run("compat/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Select(local, prof.IKE, SelectOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	win, _ := LookupProfile("windows")
	strict := StrictIKE()
	b.Run("strict/windows_mismatch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Select(strict, win.IKE, SelectOptions{}); err == nil {
				b.Fatal("matched")
			}
		}
	})
	b.Run("strict/windows_explain", func(b *testing.B) {
		b.ReportAllocs()
		_, err := Select(strict, win.IKE, SelectOptions{})
		me := err.(*MismatchError)
		for b.Loop() {
			_ = me.Explain()
		}
	})
}

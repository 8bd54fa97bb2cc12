package console

import "testing"

func TestSafeFileName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"receipt-p-1", "receipt-p-1"},
		{"receipt-a%2Fb#c&d@e", "receipt-a_2Fb_c_d_e"},
		{"receipt-../x", "receipt-___x"},
		{"receipt-名前", "receipt-______"},
	} {
		if got := safeFileName(tc.in); got != tc.want {
			t.Errorf("safeFileName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

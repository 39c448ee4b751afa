package push_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/push"
)

func sampleURI() *push.RegistrationURI {
	return &push.RegistrationURI{
		Issuer:             "Acme: Corp & Co",
		AccountName:        "alice@example.com",
		MessageID:          "REGISTER:8be951c6-1b5f-4fd4-a2d5-421bd18650421570561063169",
		Secret:             bytes.Repeat([]byte{0xfb}, 32),
		Challenge:          bytes.Repeat([]byte{0x3e}, 32),
		RegisterURL:        "https://arbor.example.com/json/realms/root/realms/alpha/push/sns/message?_action=register",
		AuthenticateURL:    "https://arbor.example.com/json/realms/root/realms/alpha/push/sns/message?_action=authenticate",
		Username:           "alice",
		LoadBalancerCookie: "amlbcookie=01",
		Color:              "032b75",
		ImageURL:           "https://acme.example.com/logo.png",
	}
}

func TestURIRoundTrip(t *testing.T) {
	in := sampleURI()
	s := in.String()
	if !strings.HasPrefix(s, "pushauth://push/Acme%3A%20Corp%20&%20Co:alice@example.com?l=") {
		t.Errorf("URI starts %q", s[:min(len(s), 80)])
	}
	// AM's parameter order.
	order := []string{"?l=", "&issuer=", "&m=REGISTER:", "&s=", "&c=", "&r=", "&a=", "&uid=", "&b=032b75", "&image="}
	last := -1
	for _, p := range order {
		i := strings.Index(s, p)
		if i <= last {
			t.Fatalf("parameter %q out of AM's order in %s", p, s)
		}
		last = i
	}
	out, err := push.ParseURI(s)
	if err != nil {
		t.Fatalf("ParseURI: %v", err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestParseURIAcceptsAppVariants(t *testing.T) {
	// A URI written with standard padded base64 for s and c, as some generators do,
	// and '#' before the colour.
	in := sampleURI()
	s := strings.Replace(in.String(), "&s="+base64.RawURLEncoding.EncodeToString(in.Secret),
		"&s="+base64.StdEncoding.EncodeToString(in.Secret), 1)
	s = strings.Replace(s, "&b=032b75", "&b=%23032b75", 1)
	out, err := push.ParseURI(s)
	if err != nil {
		t.Fatalf("ParseURI: %v", err)
	}
	if !bytes.Equal(out.Secret, in.Secret) || out.Color != "032b75" {
		t.Errorf("got secret %x colour %q", out.Secret, out.Color)
	}
}

func TestParseURIMalformed(t *testing.T) {
	good := sampleURI().String()
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	replaceParam := func(name, value string) string {
		u := sampleURI()
		s := u.String()
		i := strings.Index(s, "&"+name+"=")
		if i < 0 {
			i = strings.Index(s, "?"+name+"=")
		}
		j := strings.IndexByte(s[i+1:], '&')
		end := len(s)
		if j >= 0 {
			end = i + 1 + j
		}
		if value == "\x00drop" {
			return s[:i+1] + strings.TrimPrefix(s[end:], "&")
		}
		return s[:i+1] + name + "=" + value + s[end:]
	}
	tests := []struct {
		name  string
		uri   string
		param string
		want  error
	}{
		{"wrong scheme", strings.Replace(good, "pushauth://", "otpauth://", 1), "scheme", push.ErrURIScheme},
		{"http URL", "https://example.com/?m=REGISTER:x", "scheme", push.ErrURIScheme},
		{"wrong type", strings.Replace(good, "pushauth://push/", "pushauth://totp/", 1), "scheme", push.ErrURIScheme},
		{"not a URI", "::::", "scheme", push.ErrURIScheme},
		{"empty", "", "scheme", push.ErrURIScheme},
		{"missing m", replaceParam("m", "\x00drop"), "m", push.ErrURIMissing},
		{"missing r", replaceParam("r", "\x00drop"), "r", push.ErrURIMissing},
		{"missing a", replaceParam("a", "\x00drop"), "a", push.ErrURIMissing},
		{"missing s", replaceParam("s", "\x00drop"), "s", push.ErrURIMissing},
		{"missing c", replaceParam("c", "\x00drop"), "c", push.ErrURIMissing},
		{"empty s", replaceParam("s", ""), "s", push.ErrURIMissing},
		{"m not a registration", replaceParam("m", "AUTHENTICATE:abc"), "m", push.ErrURIMessageID},
		{"m prefix only", replaceParam("m", "REGISTER:"), "m", push.ErrURIMessageID},
		{"s bad base64", replaceParam("s", "!!notbase64!!"), "s", push.ErrURIEncoding},
		{"s too short", replaceParam("s", b64("short secret")), "s", push.ErrURISecret},
		{"s too long", replaceParam("s", b64(strings.Repeat("x", 33))), "s", push.ErrURISecret},
		{"c bad base64", replaceParam("c", "***"), "c", push.ErrURIEncoding},
		{"c wrong length", replaceParam("c", b64("abc")), "c", push.ErrURIChallenge},
		{"r bad base64", replaceParam("r", "%%%"), "query", push.ErrURIEncoding},
		{"r not base64", replaceParam("r", "a*b"), "r", push.ErrURIEncoding},
		{"r not a URL", replaceParam("r", b64("not a url")), "r", push.ErrURIEndpoint},
		{"a not http", replaceParam("a", b64("ftp://example.com/x")), "a", push.ErrURIEndpoint},
		{"issuer bad base64", replaceParam("issuer", "@@"), "issuer", push.ErrURIEncoding},
		{"uid bad base64", replaceParam("uid", "@@"), "uid", push.ErrURIEncoding},
		{"bad colour", replaceParam("b", "zzzzzz"), "b", push.ErrURIColor},
		{"bad label escape", strings.Replace(good, "pushauth://push/Acme%3A", "pushauth://push/Acme%zz", 1), "scheme", push.ErrURIScheme},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := push.ParseURI(tt.uri)
			if !errors.Is(err, push.ErrMalformedURI) || !errors.Is(err, tt.want) {
				t.Fatalf("ParseURI(%q): err = %v, want %v", tt.uri, err, tt.want)
			}
			var ue *push.URIError
			if !errors.As(err, &ue) || ue.Param != tt.param {
				t.Fatalf("err = %#v, want a URIError for %q", err, tt.param)
			}
		})
	}
}

package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/labstack/echo/v4"
)

//go:embed static
var staticFS embed.FS

// assetPrefix is where the static files are served.
const assetPrefix = "/static/web/"

type assetFile struct {
	body  []byte
	hash  string
	ctype string
}

// assets are the static files with a short content hash each; pages link them with the
// hash in the query, so a new release is fetched at once and an old one is cached for
// good.
var assets = loadAssets()

func loadAssets() map[string]assetFile {
	out := map[string]assetFile{}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic("web: embedded static files: " + err.Error())
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic("web: embedded static files: " + err.Error())
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(e.Name()))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[e.Name()] = assetFile{body: b, hash: hex.EncodeToString(sum[:6]), ctype: ctype}
	}
	return out
}

// assetURL is the versioned URL of static file name.
func assetURL(name string) string {
	a, ok := assets[name]
	if !ok {
		return assetPrefix + name
	}
	return assetPrefix + name + "?v=" + a.hash
}

// asset serves a static file.
func (s *Server) asset(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	a, ok := assets[c.Param("name")]
	if !ok {
		h.Set("Cache-Control", "no-store")
		return c.String(http.StatusNotFound, "not found\n")
	}
	if c.QueryParam("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+a.hash+`"`)
	h.Set("Content-Type", a.ctype)
	http.ServeContent(c.Response(), c.Request(), c.Param("name"), time.Time{}, bytes.NewReader(a.body))
	return nil
}

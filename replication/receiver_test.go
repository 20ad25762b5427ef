package replication

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/graphvault/graphvault/api"
	"github.com/graphvault/graphvault/backup"
	"github.com/graphvault/graphvault/store/blob"
	"github.com/graphvault/graphvault/store/blob/fileblob"
	"github.com/graphvault/graphvault/store/blob/memblob"
	"github.com/graphvault/graphvault/store/graph/graphtest"
	"github.com/graphvault/graphvault/store/meta"
)

func contentKeyOf(prefix string, b []byte) string {
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	return prefix + h[:2] + "/" + h
}

func TestReceiver(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 20, edges: 20})
	row := h.snapshot(backup.KindFull)
	manifest, err := h.engine.Bucket().Get(h.ctx, row.ManifestKey)
	if err != nil {
		t.Fatal(err)
	}
	other := h.snapshot(backup.KindFull)
	otherManifest, err := h.engine.Bucket().Get(h.ctx, other.ManifestKey)
	if err != nil {
		t.Fatal(err)
	}
	// A valid manifest of another snapshot, re-encoded under row's key: its root no
	// longer matches once the id is changed.
	var m backup.Manifest
	if err := json.Unmarshal(otherManifest, &m); err != nil {
		t.Fatal(err)
	}
	m.ID = row.ID
	forged, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(manifest)
	damaged[len(damaged)/2] ^= 1
	// An intact manifest of a third snapshot, labelled U+FFFD, with that label's
	// bytes made invalid UTF-8: it decodes (into U+FFFD) with a matching root.
	third := h.snapshot(backup.KindFull)
	thirdManifest, err := h.engine.Bucket().Get(h.ctx, third.ManifestKey)
	if err != nil {
		t.Fatal(err)
	}
	var tm backup.Manifest
	if err := json.Unmarshal(thirdManifest, &tm); err != nil {
		t.Fatal(err)
	}
	tm.Labels = map[string]string{"note": "\ufffd"}
	if err := reRoot(&tm); err != nil {
		t.Fatal(err)
	}
	notText, err := json.Marshal(tm)
	if err != nil {
		t.Fatal(err)
	}
	notText = bytes.Replace(notText, []byte("\ufffd"), []byte{0xff}, 1)
	if _, err := backup.DecodeManifest(notText); err != nil {
		t.Fatalf("the manifest that is not valid UTF-8 must otherwise be intact: %v", err)
	}

	data := []byte("segment bytes")
	dataKey := contentKeyOf("data/", data)
	drv := memblob.New()
	srv := httptest.NewServer(NewReceiver(blob.NewBucket(drv), "tok", WithMaxObjectBytes(1<<20)))
	defer srv.Close()

	type step struct {
		name, method, path, token string
		body                      []byte
		header                    map[string]string
		want                      int
		wantBody                  string
	}
	steps := []step{
		{"no token", "PUT", "/objects/" + dataKey, "", data, nil, 401, ""},
		{"wrong token", "GET", "/objects?prefix=", "nope", nil, nil, 401, ""},
		{"wrong token on read", "GET", "/objects/" + dataKey, "nope", nil, nil, 401, ""},
		{"unknown path without a token", "GET", "/nope", "", nil, nil, 401, ""},
		{"dot segment", "PUT", "/objects/data/../x", "tok", data, nil, 400, ""},
		{"key outside the layout", "PUT", "/objects/other/x", "tok", data, nil, 400, ""},
		{"hash mismatch", "PUT", "/objects/" + contentKeyOf("data/", []byte("else")), "tok", data, nil, 422, ""},
		{"too large", "PUT", "/objects/" + contentKeyOf("data/", make([]byte, 2<<20)), "tok", make([]byte, 2<<20), nil, 413, ""},
		{"missing", "GET", "/objects/" + dataKey, "tok", nil, nil, 404, ""},
		{"missing head", "HEAD", "/objects/" + dataKey, "tok", nil, nil, 404, ""},
		{"put data", "PUT", "/objects/" + dataKey, "tok", data, nil, 204, ""},
		{"put data again if absent", "PUT", "/objects/" + dataKey, "tok", data, map[string]string{"If-None-Match": "*"}, 412, ""},
		{"get data", "GET", "/objects/" + dataKey, "tok", nil, nil, 200, string(data)},
		{"head data", "HEAD", "/objects/" + dataKey, "tok", nil, nil, 200, ""},
		{"manifest with bad root", "PUT", "/objects/" + row.ManifestKey, "tok", forged, nil, 422, ""},
		{"manifest under another key", "PUT", "/objects/" + row.ManifestKey, "tok", otherManifest, nil, 422, ""},
		{"damaged manifest", "PUT", "/objects/" + row.ManifestKey, "tok", damaged, nil, 422, ""},
		{"manifest", "PUT", "/objects/" + row.ManifestKey, "tok", manifest, nil, 204, ""},
		{"same manifest again", "PUT", "/objects/" + row.ManifestKey, "tok", manifest, nil, 204, ""},
		{"data key not JSON", "PUT", "/objects/keys/" + row.ID + ".json", "tok", []byte("x"), nil, 422, ""},
		{"data key not UTF-8", "PUT", "/objects/keys/" + row.ID + ".json", "tok", []byte("{\"k\":\"\xff\"}"), nil, 400, ""},
		{"data key not UTF-8 is not stored", "GET", "/objects/keys/" + row.ID + ".json", "tok", nil, nil, 404, ""},
		{"manifest not UTF-8", "PUT", "/objects/" + third.ManifestKey, "tok", notText, nil, 400, ""},
		{"manifest not UTF-8 is not stored", "GET", "/objects/" + third.ManifestKey, "tok", nil, nil, 404, ""},
		{"journal head not UTF-8", "PUT", "/objects/" + JournalHeadKey("graph1"), "tok", []byte("{\"format\":1,\"graph_id\":\"graph1\xff\",\"position\":1}"), nil, 400, ""},
		{"bad prefix", "GET", "/objects?prefix=a//b", "tok", nil, nil, 400, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			req, err := http.NewRequest(s.method, srv.URL+s.path, bytes.NewReader(s.body))
			if err != nil {
				t.Fatal(err)
			}
			if s.token != "" {
				req.Header.Set("Authorization", "Bearer "+s.token)
			}
			for k, v := range s.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != s.want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, s.want)
			}
			if s.wantBody != "" && body != s.wantBody {
				t.Errorf("got body %q, want %q", body, s.wantBody)
			}
			if s.want >= 400 && s.method != "HEAD" && resp.Header.Get("Content-Type") != api.ContentTypeProblem {
				t.Errorf("error answered as %q, want problem+json", resp.Header.Get("Content-Type"))
			}
		})
	}

	// A different, intact manifest under a taken key is a conflict; a damaged stored
	// one is replaced.
	b := blob.NewBucket(drv)
	hd := newHTTPDriver(srv.URL, "tok", http.DefaultClient)
	var om backup.Manifest
	if err := json.Unmarshal(manifest, &om); err != nil {
		t.Fatal(err)
	}
	om.Labels = map[string]string{"x": "y"}
	if err := reRoot(&om); err != nil {
		t.Fatal(err)
	}
	changed, err := json.Marshal(om)
	if err != nil {
		t.Fatal(err)
	}
	if err := hd.PutIfAbsent(h.ctx, row.ManifestKey, changed); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("different manifest: got %v, want 409", err)
	}
	if err := b.Put(h.ctx, row.ManifestKey, damaged); err != nil {
		t.Fatal(err)
	}
	if err := hd.PutIfAbsent(h.ctx, row.ManifestKey, manifest); err != nil {
		t.Errorf("replacing a damaged manifest: %v", err)
	}
	if got, _ := b.Get(h.ctx, row.ManifestKey); !bytes.Equal(got, manifest) {
		t.Error("the damaged manifest was not replaced")
	}
}

// reRoot recomputes a manifest's root hash after a change.
func reRoot(m *backup.Manifest) error {
	m.Root = ""
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	m.Root = hex.EncodeToString(sum[:])
	return nil
}

// TestReceiverWithoutToken: a receiver given no token refuses everything, also a
// request that sends an empty one.
func TestReceiverWithoutToken(t *testing.T) {
	srv := httptest.NewServer(NewReceiver(blob.NewBucket(memblob.New()), ""))
	defer srv.Close()
	for _, auth := range []string{"", "Bearer", "Bearer "} {
		req, _ := http.NewRequest("GET", srv.URL+"/objects", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: got %d, want 401", auth, resp.StatusCode)
		}
	}
}

func TestReceiverListPages(t *testing.T) {
	drv := memblob.New()
	b := blob.NewBucket(drv)
	var want []string
	for i := range 2500 {
		k := contentKeyOf("data/", []byte{byte(i), byte(i >> 8)})
		if err := b.Put(t.Context(), k, []byte{byte(i), byte(i >> 8)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	if err := b.Put(t.Context(), "index/aa/x", []byte("i")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewReceiver(b, "tok"))
	defer srv.Close()
	hd := newHTTPDriver(srv.URL, "tok", http.DefaultClient)
	seen := map[string]bool{}
	prev := ""
	for a, err := range hd.List(t.Context(), "data/") {
		if err != nil {
			t.Fatal(err)
		}
		if a.Key <= prev || seen[a.Key] || a.Size != 2 {
			t.Fatalf("list: %q (size %d) after %q", a.Key, a.Size, prev)
		}
		seen[a.Key], prev = true, a.Key
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d objects, want %d", len(seen), len(want))
	}
}

// TestHTTPTargetRestore replicates to another server's receive endpoint and
// restores there, from the receiving bucket alone, with a second engine.
func TestHTTPTargetRestore(t *testing.T) {
	h := newHarness(t, harnessOpts{nodes: 500, edges: 1000})
	recv, recvDrv := receiverServer(t, "peer-token")
	tg, err := h.svc.Register(h.ctx, TargetSpec{Name: "peer", Kind: KindHTTP,
		Config: map[string]string{"base_url": recv.URL}, Secret: "peer-token", Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	full := h.snapshot(backup.KindFull)
	if r := h.replicate(full.ID, tg.ID, false); !r.OK {
		t.Fatal(r.Error)
	}
	h.change(0.02)
	inc := h.snapshot(backup.KindIncremental)
	r := h.replicate(inc.ID, tg.ID, true)
	if !r.OK || r.ObjectsSkipped == 0 {
		t.Fatalf("incremental to the peer: %+v", r)
	}
	want, err := graphtest.Read(h.ctx, h.graph)
	if err != nil {
		t.Fatal(err)
	}
	restoreFrom(t, recvDrv, inc.ID, want)

	// A wrong token fails the run, and the event says so.
	bad := "wrong"
	if _, err := h.svc.Update(h.ctx, tg.ID, TargetPatch{Secret: &bad}); err != nil {
		t.Fatal(err)
	}
	res, err := h.svc.Replicate(h.ctx, inc.ID, ReplicateOptions{TargetID: tg.ID})
	if err == nil || res[0].OK {
		t.Fatal("replication with a wrong token succeeded")
	}
	evs, _, err := h.store.ListReplicationEvents(h.ctx, meta.EventFilter{TargetID: tg.ID, Limit: 1})
	if err != nil || len(evs) != 1 || evs[0].Status != meta.EventFailed {
		t.Fatalf("latest event: %+v, %v; want failed", evs, err)
	}
}

// TestReceiverReadsOnlyItsLayout: a read of a key outside the layout is a 400, also
// on a folder bucket whose file system cannot hold the key's long segment (which
// used to answer 500).
func TestReceiverReadsOnlyItsLayout(t *testing.T) {
	drv, err := fileblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := blob.NewBucket(drv)
	defer b.Close()
	if err := b.Put(t.Context(), "other/x", []byte("not replicated")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewReceiver(b, "tok"))
	defer srv.Close()
	long := strings.Repeat("g", 300)
	for _, key := range []string{
		"other/x", "data/" + long + "/" + strings.Repeat("ab", 32), "manifests/" + long + "/01ARZ3NDEKTSV4RRFFQ69G5FAV.json",
		"manifests/graph1/" + long, "keys/" + long, "journal/graph1/" + long,
	} {
		for _, method := range []string{"GET", "HEAD"} {
			req, _ := http.NewRequest(method, srv.URL+"/objects/"+key, nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s %s: %d, want 400", method, key, resp.StatusCode)
			}
		}
	}
}

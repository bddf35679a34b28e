package export

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"time"
)

// Writer streams an archive: one ZIP entry at a time, each record encoded
// straight into the entry (through a small buffer) while its SHA-256 and
// length are computed on the way, so nothing of the tenant's data is held
// beyond the record being written. Close writes manifest.json, the last
// entry, from the digests of the others.
type Writer struct {
	zw       *zip.Writer
	format   Format
	modified time.Time
	files    []File
	cur      *entry
}

// entry is the ZIP entry being written.
type entry struct {
	file File
	buf  *bufio.Writer
	sum  hash.Hash
	n    *byteCounter
	csv  *csv.Writer
	json *json.Encoder
}

// byteCounter counts what is written through it.
type byteCounter struct{ n int64 }

func (c *byteCounter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// NewWriter returns a Writer of an archive of format f on w. modified is
// the entries' time (the snapshot's).
func NewWriter(w io.Writer, f Format, modified time.Time) *Writer {
	zw := zip.NewWriter(w)
	// Deflate's fastest level: an export is bounded by compression more
	// than by reading, and text still shrinks about threefold.
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestSpeed)
	})
	return &Writer{zw: zw, format: f, modified: modified}
}

// create starts the entry name, ending the one before.
func (a *Writer) create(name string) error {
	if err := a.end(); err != nil {
		return err
	}
	zf, err := a.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: a.modified})
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	e := &entry{file: File{Name: name}, sum: sha256.New(), n: &byteCounter{}}
	e.buf = bufio.NewWriterSize(io.MultiWriter(zf, e.sum, e.n), 64<<10)
	a.cur = e
	return nil
}

// end finishes the current entry and records its digest.
func (a *Writer) end() error {
	e := a.cur
	if e == nil {
		return nil
	}
	a.cur = nil
	if e.csv != nil {
		e.csv.Flush()
		if err := e.csv.Error(); err != nil {
			return fmt.Errorf("write %s: %w", e.file.Name, err)
		}
	}
	if err := e.buf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", e.file.Name, err)
	}
	e.file.Bytes = e.n.n
	e.file.SHA256 = hex.EncodeToString(e.sum.Sum(nil))
	a.files = append(a.files, e.file)
	return nil
}

// Object writes a file holding one JSON object (tenant.json).
func (a *Writer) Object(name string, v any) error {
	if err := a.create(name); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	if _, err := a.cur.buf.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	a.cur.file.Records = 1
	return a.end()
}

// Begin starts the record file base (documents, query_log, …) in the
// archive's format: a .csv file gets its header row.
func (a *Writer) Begin(base string) error {
	if err := a.create(FileName(base, a.format)); err != nil {
		return err
	}
	if a.format == CSV {
		a.cur.csv = csv.NewWriter(a.cur.buf)
		if err := a.cur.csv.Write(headers[base]); err != nil {
			return fmt.Errorf("write %s: %w", a.cur.file.Name, err)
		}
		return nil
	}
	enc := json.NewEncoder(a.cur.buf)
	enc.SetEscapeHTML(false)
	a.cur.json = enc
	return nil
}

// Put writes one record to the record file begun last.
func (a *Writer) Put(r record) error {
	e := a.cur
	var err error
	if e.csv != nil {
		err = e.csv.Write(r.csvRow())
	} else {
		err = e.json.Encode(r) // one line: the encoder ends it with \n
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", e.file.Name, err)
	}
	e.file.Records++
	return nil
}

// Files returns the digests of the entries finished so far.
func (a *Writer) Files() []File { return append([]File(nil), a.files...) }

// Close ends the last record file, writes manifest.json from the digests
// of every other entry and finishes the ZIP. It returns the manifest.
func (a *Writer) Close(m Manifest) (*Manifest, error) {
	if err := a.end(); err != nil {
		return nil, err
	}
	m.Files = append([]File(nil), a.files...)
	m.Format = a.format
	if err := a.Object(FileManifest, m); err != nil {
		return nil, err
	}
	if err := a.zw.Close(); err != nil {
		return nil, fmt.Errorf("finish the archive: %w", err)
	}
	return &m, nil
}

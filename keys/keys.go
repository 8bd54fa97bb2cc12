// Package keys is the key store: one AES-256-GCM data key per person, wrapped by a master key.
// Personal fields are sealed with the person's key before they enter the log; destroying the key
// when the person is deleted makes every copy of those fields unreadable (crypto-shredding).
package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/erasure-dev/erasure/events"
)

// ErrShredded means the person's key is gone (or never sealed this value): the field is erased.
var ErrShredded = errors.New("personal data erased")

// MasterKeyFile is the master key's file name under the data directory.
const MasterKeyFile = "master.key"

// LoadOrCreateMasterKey returns the master key: the base64 value given (ERASURE_MASTER_KEY) if
// any, else the one in dir/master.key, created with mode 0600 on first start.
func LoadOrCreateMasterKey(dir, given string) ([]byte, error) {
	if given != "" {
		return decodeMaster(given, "ERASURE_MASTER_KEY")
	}
	path := filepath.Join(dir, MasterKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		return decodeMaster(strings.TrimSpace(string(b)), path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create master key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync master key: %w", err)
	}
	return key, f.Close()
}

func decodeMaster(s, from string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("master key from %s must be 32 bytes in standard base64 (generate one with: head -c32 /dev/urandom | base64)", from)
	}
	return key, nil
}

// Store keeps the wrapped data keys in its own database.
type Store struct {
	db     *sqlx.DB
	master cipher.AEAD
}

// New returns a key store on db wrapping keys with master.
func New(db *sqlx.DB, master []byte) (*Store, error) {
	aead, err := newAEAD(master)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &Store{db: db, master: aead}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext with the person's data key, creating the key on first use.
func (s *Store) Seal(ctx context.Context, personID, plaintext string) (events.Sealed, error) {
	aead, err := s.dataKey(ctx, personID, true)
	if err != nil {
		return "", err
	}
	return seal(aead, personID, plaintext), nil
}

// Open decrypts a sealed field; ErrShredded when the person's key is gone.
func (s *Store) Open(ctx context.Context, personID string, sealed events.Sealed) (string, error) {
	if sealed == "" {
		return "", nil
	}
	aead, err := s.dataKey(ctx, personID, false)
	if err != nil {
		return "", err
	}
	return open(aead, personID, sealed)
}

// Destroy deletes the persons' data keys. Their sealed fields are unreadable from then on.
func (s *Store) Destroy(ctx context.Context, personIDs ...string) error {
	if len(personIDs) == 0 {
		return nil
	}
	q, args, err := sqlx.In("DELETE FROM person_keys WHERE person_id IN (?)", personIDs)
	if err != nil {
		return fmt.Errorf("destroy keys: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(q), args...); err != nil {
		return fmt.Errorf("destroy keys: %w", err)
	}
	return nil
}

// Has reports whether a data key exists for the person.
func (s *Store) Has(ctx context.Context, personID string) (bool, error) {
	_, err := s.dataKey(ctx, personID, false)
	if errors.Is(err, ErrShredded) {
		return false, nil
	}
	return err == nil, err
}

func (s *Store) dataKey(ctx context.Context, personID string, create bool) (cipher.AEAD, error) {
	var wrapped []byte
	err := s.db.GetContext(ctx, &wrapped, s.db.Rebind("SELECT wrapped FROM person_keys WHERE person_id = ?"), personID)
	if errors.Is(err, sql.ErrNoRows) {
		if !create {
			return nil, ErrShredded
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generate data key: %w", err)
		}
		if _, err := s.db.ExecContext(ctx, s.db.Rebind(
			"INSERT INTO person_keys (person_id, wrapped, created_at) VALUES (?, ?, ?) ON CONFLICT (person_id) DO NOTHING"),
			personID, sealBytes(s.master, key, personID), time.Now().UTC()); err != nil {
			return nil, fmt.Errorf("store data key: %w", err)
		}
		// A concurrent first use may have won the insert: read back whichever key is stored.
		return s.dataKey(ctx, personID, false)
	}
	if err != nil {
		return nil, fmt.Errorf("load data key: %w", err)
	}
	return s.unwrap(personID, wrapped)
}

func (s *Store) unwrap(personID string, wrapped []byte) (cipher.AEAD, error) {
	ns := s.master.NonceSize()
	if len(wrapped) < ns {
		return nil, fmt.Errorf("data key of %s is corrupt", personID)
	}
	key, err := s.master.Open(nil, wrapped[:ns], wrapped[ns:], []byte(personID))
	if err != nil {
		return nil, fmt.Errorf("unwrap data key of %s (wrong master key?): %w", personID, err)
	}
	return newAEAD(key)
}

// sealBytes returns nonce || ciphertext, the person's id bound in as associated data so that a
// value can never be opened as another person's.
func sealBytes(a cipher.AEAD, plaintext []byte, personID string) []byte {
	n := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	_, _ = rand.Read(n)
	return a.Seal(n, n, plaintext, []byte(personID))
}

func seal(a cipher.AEAD, personID, plaintext string) events.Sealed {
	return events.Sealed(base64.RawStdEncoding.EncodeToString(sealBytes(a, []byte(plaintext), personID)))
}

func open(a cipher.AEAD, personID string, sealed events.Sealed) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(string(sealed))
	if err != nil || len(raw) < a.NonceSize() {
		return "", ErrShredded
	}
	pt, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(personID))
	if err != nil {
		// A key made after the person was deleted and re-created cannot open the old fields.
		return "", ErrShredded
	}
	return string(pt), nil
}

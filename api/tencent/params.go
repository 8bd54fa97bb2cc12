package tencent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

// commonParams are API 3.0's common parameters, which a GET request may also carry in its query;
// they are not the action's own.
var commonParams = map[string]bool{
	"Action": true, "Version": true, "Region": true, "Timestamp": true, "Nonce": true, "SecretId": true,
	"Signature": true, "SignatureMethod": true, "Token": true, "Language": true, "RequestClient": true,
}

// decodeBody reads a POST request's JSON body into v. Unknown fields are ignored: a newer SDK
// sends fields erasure does not model, and refusing them would break it for nothing.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil // an action without parameters; the SDK sends "{}", curl may send nothing
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("%w: %s must be %s", errInvalid, typeErr.Field, typeErr.Type)
		}
		return fmt.Errorf("%w: the body is not a JSON object: %v", errInvalid, err)
	}
	return nil
}

// decodeQuery reads a GET request's parameters into v, the inverse of the SDK's flattening:
// a list is Name.0, Name.1, …; a structure's field is Name.Field. Fields are matched by their
// JSON names, which are Tencent's parameter names.
func decodeQuery(q url.Values, v any) error {
	return fillStruct(reflect.ValueOf(v).Elem(), q, "")
}

func fillStruct(v reflect.Value, q url.Values, prefix string) error {
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || (prefix == "" && commonParams[name]) {
			continue
		}
		if err := fillValue(v.Field(i), q, prefix+name); err != nil {
			return err
		}
	}
	return nil
}

func fillValue(v reflect.Value, q url.Values, key string) error {
	switch v.Kind() {
	case reflect.Pointer:
		if !present(q, key) {
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := fillValue(p.Elem(), q, key); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Slice:
		for j := 0; ; j++ {
			k := key + "." + strconv.Itoa(j)
			if !present(q, k) {
				return nil
			}
			e := reflect.New(v.Type().Elem()).Elem()
			if err := fillValue(e, q, k); err != nil {
				return err
			}
			v.Set(reflect.Append(v, e))
		}
	case reflect.Struct:
		return fillStruct(v, q, key+".")
	case reflect.String:
		v.SetString(q.Get(key))
	case reflect.Bool:
		b, err := strconv.ParseBool(q.Get(key))
		if err != nil {
			return fmt.Errorf("%w: %s must be true or false", errInvalid, key)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(q.Get(key), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s must be an integer", errInvalid, key)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint64:
		n, err := strconv.ParseUint(q.Get(key), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s must be a non-negative integer", errInvalid, key)
		}
		v.SetUint(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(q.Get(key), 64)
		if err != nil {
			return fmt.Errorf("%w: %s must be a number", errInvalid, key)
		}
		v.SetFloat(f)
	}
	return nil
}

// present reports whether the query holds key itself or something below it.
func present(q url.Values, key string) bool {
	if q.Has(key) {
		return true
	}
	for k := range q {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

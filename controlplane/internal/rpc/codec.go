package rpc

import (
	"strconv"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// requestCodec is the server's protobuf codec. grpc-go answers a request
// that does not decode (invalid UTF-8 in a string, truncated bytes) with
// INTERNAL before any interceptor runs, so nothing logs it and the caller
// is told the server failed. This codec instead keeps the decode failure
// for the message and reports success; the interceptor, which always runs
// next with that same message, answers INVALID_ARGUMENT naming the field
// and logs the call. The half-decoded message never reaches a handler.
type requestCodec struct {
	encoding.CodecV2 // grpc's proto codec, for Marshal and Name

	mu     sync.Mutex
	failed map[proto.Message]error
}

func newRequestCodec() *requestCodec {
	return &requestCodec{CodecV2: encoding.GetCodecV2("proto"), failed: map[proto.Message]error{}}
}

func (c *requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free() // as grpc's own codec does: Unmarshal copies what it keeps
	b := buf.ReadOnlyData()
	if err := proto.Unmarshal(b, m); err != nil {
		c.mu.Lock()
		c.failed[m] = undecodable(b, m.ProtoReflect().Descriptor(), err)
		c.mu.Unlock()
	}
	return nil
}

// decodeError returns, and forgets, the decode failure of req.
func (c *requestCodec) decodeError(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.failed[m]
	delete(c.failed, m)
	return err
}

// undecodable names the first string field of b that is not UTF-8, or
// says the request is not a protobuf message of its type.
func undecodable(b []byte, md protoreflect.MessageDescriptor, err error) error {
	if field := invalidUTF8(b, md, ""); field != "" {
		return fault.InvalidField(field, "must be valid UTF-8")
	}
	return fault.InvalidField(string(md.Name()), "the request does not decode as %s: %v", md.FullName(), err)
}

// invalidUTF8 walks the wire encoding of a message of type md and returns
// the path of the first string field holding invalid UTF-8, e.g.
// "integration.correlation.rules[1].catalog_path"; empty when there is
// none or the bytes do not parse.
func invalidUTF8(b []byte, md protoreflect.MessageDescriptor, prefix string) string {
	seen := map[protowire.Number]int{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return ""
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		path := prefix + string(fd.Name())
		if fd.IsList() {
			path += "[" + strconv.Itoa(seen[num]) + "]"
			seen[num]++
		}
		switch {
		case fd.Kind() == protoreflect.StringKind && !utf8.Valid(v):
			return path
		case fd.Kind() == protoreflect.MessageKind:
			if p := invalidUTF8(v, fd.Message(), path+"."); p != "" {
				return p
			}
		}
	}
	return ""
}

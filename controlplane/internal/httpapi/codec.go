package httpapi

import (
	"fmt"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// jsonCodec is vanguard's JSON codec with two choices of this API: an
// unknown field is an error (a misspelt field must not be silently
// dropped), and a body that does not decode is the caller's error,
// invalid_argument, not an unknown one.
type jsonCodec struct{ *vanguard.JSONCodec }

func newJSONCodec(res vanguard.TypeResolver) vanguard.Codec {
	c := vanguard.NewJSONCodec(res)
	c.UnmarshalOptions = protojson.UnmarshalOptions{Resolver: res}
	return jsonCodec{c}
}

func (c jsonCodec) Unmarshal(data []byte, msg proto.Message) error {
	if err := c.JSONCodec.Unmarshal(data, msg); err != nil {
		return undecodable(msg, "JSON", err)
	}
	return nil
}

// protoCodec is vanguard's binary codec with undecodable bodies reported
// as the caller's error.
type protoCodec struct{ *vanguard.ProtoCodec }

func newProtoCodec(res vanguard.TypeResolver) vanguard.Codec {
	return protoCodec{vanguard.NewProtoCodec(res)}
}

func (c protoCodec) Unmarshal(data []byte, msg proto.Message) error {
	if err := c.ProtoCodec.Unmarshal(data, msg); err != nil {
		return undecodable(msg, "binary protobuf", err)
	}
	return nil
}

func undecodable(msg proto.Message, format string, err error) error {
	return connect.NewError(connect.CodeInvalidArgument,
		fmt.Errorf("the body is not a %s in %s: %w", msg.ProtoReflect().Descriptor().FullName(), format, err))
}

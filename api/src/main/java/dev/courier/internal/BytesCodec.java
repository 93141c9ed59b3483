package dev.courier.internal;

import dev.courier.Codec;
import dev.courier.CodecException;
import dev.courier.ContentTypes;
import dev.courier.Headers;

/** Raw bytes, passed through untouched. */
public final class BytesCodec implements Codec {

    @Override
    public String contentType() {
        return ContentTypes.OCTET_STREAM;
    }

    @Override
    public boolean canEncode(Class<?> type) {
        return type == byte[].class;
    }

    @Override
    public byte[] encode(Object value, HeaderSink headers) {
        return ((byte[]) value).clone();
    }

    @Override
    public <T> T decode(byte[] bytes, Class<T> type, Headers headers) {
        if (type == byte[].class || type == Object.class) {
            return type.cast(bytes.clone());
        }
        throw new CodecException("an application/octet-stream payload decodes only to byte[], not " + type.getName(), null);
    }
}

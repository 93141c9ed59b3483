package dev.courier.internal;

import dev.courier.Codec;
import dev.courier.CodecException;
import dev.courier.ContentTypes;
import dev.courier.Headers;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** UTF-8 text; decoding refuses malformed UTF-8 rather than inventing replacement characters. */
public final class TextCodec implements Codec {

    @Override
    public String contentType() {
        return ContentTypes.TEXT;
    }

    @Override
    public boolean canEncode(Class<?> type) {
        return type == String.class;
    }

    @Override
    public byte[] encode(Object value, HeaderSink headers) {
        return ((String) value).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public <T> T decode(byte[] bytes, Class<T> type, Headers headers) {
        if (type != String.class && type != Object.class && type != CharSequence.class) {
            throw new CodecException("a text/plain payload decodes only to String, not " + type.getName(), null);
        }
        try {
            String s = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
            return type.cast(s);
        } catch (CharacterCodingException e) {
            throw new CodecException("payload is not valid UTF-8 text", e);
        }
    }
}

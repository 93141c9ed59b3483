package dev.courier.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.Codec;
import dev.courier.CodecException;
import dev.courier.ContentTypes;
import dev.courier.HeaderNames;
import dev.courier.Headers;

import java.io.IOException;

/** JSON through Jackson; records the payload's class in {@link HeaderNames#PAYLOAD_TYPE}. */
public final class JsonCodec implements Codec {

    private final ObjectMapper mapper;

    public JsonCodec(ObjectMapper mapper) {
        this.mapper = mapper;
    }

    @Override
    public String contentType() {
        return ContentTypes.JSON;
    }

    @Override
    public boolean canEncode(Class<?> type) {
        return true;
    }

    @Override
    public byte[] encode(Object value, HeaderSink headers) {
        try {
            headers.put(HeaderNames.PAYLOAD_TYPE, value.getClass().getName());
            return mapper.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new CodecException("cannot encode " + value.getClass().getName() + " as JSON: "
                    + e.getOriginalMessage() + "; give it public getters or make it a record", e);
        }
    }

    @Override
    public <T> T decode(byte[] bytes, Class<T> type, Headers headers) {
        try {
            return mapper.readValue(bytes, type);
        } catch (IOException e) {
            String sent = headers.get(HeaderNames.PAYLOAD_TYPE);
            throw new CodecException("cannot decode JSON payload as " + type.getName()
                    + (sent != null ? " (sender wrote " + sent + ")" : "") + ": " + firstLine(e.getMessage()), e);
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

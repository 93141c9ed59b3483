package dev.courier;

/** Content types of the built-in codecs. */
public final class ContentTypes {
    public static final String JSON = "application/json";
    public static final String TEXT = "text/plain; charset=utf-8";
    public static final String OCTET_STREAM = "application/octet-stream";

    private ContentTypes() {
    }
}

package dev.courier.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.courier.ContentTypes;
import dev.courier.Headers;
import dev.courier.Message;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Options that shape an outgoing message (publish, request) and where its payload comes from. */
final class MessageOptions {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = {"-f", "--file"}, paramLabel = "<path>", description = "Read the payload from this file.")
    Path file;

    @Option(names = {"-k", "--key"}, paramLabel = "<key>", description = "Message key (ordering / partition key).")
    String key;

    @Option(names = {"-H", "--header"}, paramLabel = "<name=value>", description = "A message header; repeatable.")
    Map<String, String> headers = new LinkedHashMap<>();

    @Option(names = {"-t", "--content-type"}, paramLabel = "<type>",
            description = "Content type of the payload. Default: application/json when the payload is a JSON object or array,"
                    + " text/plain; charset=utf-8 when it is other UTF-8 text, else application/octet-stream.")
    String contentType;

    /**
     * The payload bytes: the argument, {@code --file}, or standard input ({@code -}, or when neither
     * is given and standard input is not a terminal).
     */
    byte[] payload(CommandSpec spec, CourierCli cli, String argument) {
        if (argument != null && file != null) {
            throw new ParameterException(spec.commandLine(), "give the payload either as an argument or with --file, not both");
        }
        if (file != null) {
            return readFile(file);
        }
        if (argument != null && !argument.equals("-")) {
            return argument.getBytes(StandardCharsets.UTF_8);
        }
        if (argument == null && cli.stdinIsTerminal()) {
            throw new ParameterException(spec.commandLine(),
                    "no payload: give it as an argument, with --file <path>, or on standard input (pipe it, or pass - and type it)");
        }
        byte[] read;
        try {
            read = cli.in().readAllBytes();
        } catch (IOException e) {
            throw new CliFailure(ExitCodes.ERROR, "cannot read standard input: " + e.getMessage(), e);
        }
        if (read.length == 0 && argument == null) {
            throw new ParameterException(spec.commandLine(),
                    "no payload: standard input was empty; give the payload as an argument, with --file, or - to send an empty one");
        }
        return read;
    }

    /** Where {@code --lines} reads from: {@code --file} or standard input. */
    InputStream lineSource(CommandSpec spec, CourierCli cli, String argument) {
        if (argument != null && !argument.equals("-")) {
            throw new ParameterException(spec.commandLine(), "--lines reads standard input or --file; do not give a payload argument");
        }
        if (file != null) {
            try {
                return Files.newInputStream(file);
            } catch (IOException e) {
                throw cannotRead(file, e);
            }
        }
        return cli.in();
    }

    /** A message to {@code topic} with this payload and the key, headers and content type of the options. */
    Message message(String topic, byte[] payload) {
        Message.Builder b = Message.builder(topic).payload(payload)
                .contentType(contentType != null ? contentType : detectContentType(payload));
        if (key != null) {
            b.key(key);
        }
        if (!headers.isEmpty()) {
            b.headers(Headers.of(headers));
        }
        return b.build();
    }

    static String detectContentType(byte[] payload) {
        String text = utf8(payload);
        if (text == null) {
            return ContentTypes.OCTET_STREAM;
        }
        String t = text.strip();
        if (t.startsWith("{") || t.startsWith("[")) {
            try {
                JSON.readTree(t);
                return ContentTypes.JSON;
            } catch (IOException notJson) {
                return ContentTypes.TEXT;
            }
        }
        return ContentTypes.TEXT;
    }

    /** The payload as a string if it is valid UTF-8, else {@code null}. */
    static String utf8(byte[] payload) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(payload)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private static byte[] readFile(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw cannotRead(file, e);
        }
    }

    private static CliFailure cannotRead(Path file, IOException e) {
        String why = e instanceof NoSuchFileException ? "no such file" : e.toString();
        return new CliFailure(ExitCodes.ERROR, "cannot read " + file + ": " + why, e);
    }
}

package dev.courier.reliability.idempotency;

import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Properties;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * The few connections a {@link JdbcIdempotencyStore} built from a JDBC URL keeps, so a store call
 * does not pay for a new connection (tens of milliseconds with TLS and authentication) each time.
 * Not a general-purpose pool: at most {@code size} connections opened through
 * {@link DriverManager}, reused most recently returned first, checked with
 * {@link Connection#isValid} when they sat idle for a while, dropped when the driver closed them
 * (a broken socket) or they come back outside auto-commit. A caller waits up to
 * {@code borrowTimeout} for a free connection. {@link #close()} closes the idle connections at once
 * and the borrowed ones as they come back. Thread-safe. Neither its messages nor
 * {@link #toString()} show the password.
 */
final class DriverManagerPool implements DataSource, AutoCloseable {

    /** An idle connection is validated before reuse when it sat idle longer than this. */
    static final long VALIDATE_AFTER_IDLE_NANOS = TimeUnit.SECONDS.toNanos(2);
    private static final int VALIDATE_TIMEOUT_SECONDS = 5;
    private static final Pattern URL_PASSWORD = Pattern.compile("(?i)(password=)[^&;]*");
    private static final Pattern URL_USER_INFO = Pattern.compile("(//[^/@:]*:)[^/@]*@");

    private record Idle(Connection connection, long sinceNanos) {
    }

    private final String url;
    private final Properties properties = new Properties();
    private final String password;
    private final int size;
    private final long borrowTimeoutNanos;
    private final Semaphore permits;
    private final Deque<Idle> idle = new ArrayDeque<>();
    private boolean closed; // guarded by idle

    DriverManagerPool(String url, String user, String password, int size, long borrowTimeoutNanos) {
        this.url = url;
        this.password = password == null || password.isEmpty() ? null : password;
        if (user != null && !user.isEmpty()) {
            properties.setProperty("user", user);
        }
        if (this.password != null) {
            properties.setProperty("password", this.password);
        }
        this.size = size;
        this.borrowTimeoutNanos = borrowTimeoutNanos;
        this.permits = new Semaphore(size, true);
    }

    @Override
    public Connection getConnection() throws SQLException {
        try {
            if (!permits.tryAcquire(borrowTimeoutNanos, TimeUnit.NANOSECONDS)) {
                throw new SQLException("all " + size + " connections to " + maskedUrl() + " stayed busy for "
                        + TimeUnit.NANOSECONDS.toMillis(borrowTimeoutNanos) + "ms; raise the pool size or give the store "
                        + "a DataSource of your own", "08001");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted waiting for a connection to " + maskedUrl(), "08001", e);
        }
        try {
            return lend(reusableOrNew());
        } catch (SQLException | RuntimeException e) {
            permits.release();
            throw e;
        }
    }

    private Connection reusableOrNew() throws SQLException {
        while (true) {
            Idle i;
            synchronized (idle) {
                if (closed) {
                    throw new SQLException("the idempotency store's connections to " + maskedUrl() + " are closed", "08003");
                }
                i = idle.pollFirst();
            }
            if (i == null) {
                return open();
            }
            if (System.nanoTime() - i.sinceNanos() < VALIDATE_AFTER_IDLE_NANOS || i.connection().isValid(VALIDATE_TIMEOUT_SECONDS)) {
                return i.connection();
            }
            quietlyClose(i.connection());
        }
    }

    private Connection open() throws SQLException {
        try {
            return DriverManager.getConnection(url, properties);
        } catch (SQLException e) {
            String message = mask(e.getMessage());
            // the driver's own message may quote the URL with its password: keep it out of the cause chain too
            SQLException masked = new SQLException("cannot connect to " + maskedUrl() + ": " + message, e.getSQLState());
            boolean secretInside = false;
            for (Throwable t = e; t != null && !secretInside; t = t.getCause()) {
                String text = String.valueOf(t.getMessage());
                secretInside = !mask(text).equals(text);
            }
            if (!secretInside) {
                masked.initCause(e);
            }
            throw masked;
        }
    }

    private void giveBack(Connection c) {
        boolean keep;
        try {
            keep = !c.isClosed() && c.getAutoCommit();
        } catch (SQLException e) {
            keep = false;
        }
        synchronized (idle) {
            if (keep && !closed) {
                idle.addFirst(new Idle(c, System.nanoTime()));
                c = null;
            }
        }
        if (c != null) {
            quietlyClose(c);
        }
        permits.release();
    }

    /** A view of {@code real} whose {@code close()} returns it here, once. */
    private Connection lend(Connection real) {
        boolean[] returned = {false};
        return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    String name = method.getName();
                    synchronized (returned) {
                        if (name.equals("close")) {
                            if (!returned[0]) {
                                returned[0] = true;
                                giveBack(real);
                            }
                            return null;
                        }
                        if (name.equals("isClosed")) {
                            return returned[0] || real.isClosed();
                        }
                        if (returned[0]) {
                            throw new SQLException("connection already returned to the pool", "08003");
                        }
                    }
                    if (name.equals("toString")) {
                        return "pooled connection to " + maskedUrl();
                    }
                    return invoke(real, method, args);
                });
    }

    private static Object invoke(Object target, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** Closes the idle connections; borrowed ones are closed when they come back. */
    @Override
    public void close() {
        Deque<Idle> toClose;
        synchronized (idle) {
            closed = true;
            toClose = new ArrayDeque<>(idle);
            idle.clear();
        }
        toClose.forEach(i -> quietlyClose(i.connection()));
    }

    /** Connections open and idle now (for tests). */
    int idleCount() {
        synchronized (idle) {
            return idle.size();
        }
    }

    String maskedUrl() {
        return mask(url);
    }

    /** {@code text} with the password (and any {@code password=} or {@code user:password@} part) replaced by {@code ****}. */
    String mask(String text) {
        if (text == null) {
            return null;
        }
        String out = URL_USER_INFO.matcher(URL_PASSWORD.matcher(text).replaceAll("$1****")).replaceAll("$1****@");
        return password == null ? out : out.replace(password, "****");
    }

    private static void quietlyClose(Connection c) {
        try {
            c.close();
        } catch (SQLException | RuntimeException ignored) {
            // a connection that cannot even close is gone anyway
        }
    }

    @Override
    public Connection getConnection(String username, String password) throws SQLException {
        throw new SQLFeatureNotSupportedException("the idempotency store's pool connects with the user it was configured with");
    }

    @Override
    public PrintWriter getLogWriter() {
        return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {
        // DriverManager's own log writer applies
    }

    @Override
    public void setLoginTimeout(int seconds) {
        DriverManager.setLoginTimeout(seconds);
    }

    @Override
    public int getLoginTimeout() {
        return DriverManager.getLoginTimeout();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        throw new SQLFeatureNotSupportedException("no java.util.logging logger");
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
        if (type.isInstance(this)) {
            return type.cast(this);
        }
        throw new SQLException("not a wrapper of " + type.getName());
    }

    @Override
    public boolean isWrapperFor(Class<?> type) {
        return type.isInstance(this);
    }

    @Override
    public String toString() {
        return "DriverManagerPool[" + maskedUrl() + (properties.containsKey("user") ? ", user=" + properties.getProperty("user") : "")
                + ", size=" + size + "]";
    }
}

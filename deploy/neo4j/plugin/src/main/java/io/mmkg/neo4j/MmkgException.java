package io.mmkg.neo4j;

/**
 * An error with a stable code in front of its message ({@code MMKG-E001: head: unknown entity 'x'}).
 *
 * <p>Clients map the code to a typed exception and never parse the prose; the codes are listed in
 * {@link Code} and in mmkg's Python SDK (mmkg.platform.serving.calls).
 */
final class MmkgException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    enum Code {
        UNKNOWN_ENTITY("MMKG-E001"),
        UNKNOWN_RELATION("MMKG-E002"),
        NO_ACTIVE_RUN("MMKG-E003"),
        UNKNOWN_RUN("MMKG-E004"),
        RUN_NOT_READY("MMKG-E005"),
        NO_EMBEDDING("MMKG-E006"),
        INVALID_ARGUMENT("MMKG-E007"),
        OUT_OF_MEMORY("MMKG-E008"),
        NO_INDEX("MMKG-E009"),
        STALE_KEY("MMKG-E010"),
        RUN_CORRUPT("MMKG-E011"),
        UNKNOWN_USER("MMKG-E012");

        final String id;

        Code(String id) {
            this.id = id;
        }
    }

    final Code code;

    MmkgException(Code code, String message) {
        super(code.id + ": " + message);
        this.code = code;
    }

    static MmkgException of(Code code, String format, Object... args) {
        return new MmkgException(code, args.length == 0 ? format : String.format(format, args));
    }
}

package io.mmkg.neo4j;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * {@code neo4j-admin dbms set-initial-password}, with the password read from standard input
 * instead of the command line, where every user of the machine could read it (ps, /proc).
 * mmkg runs it before the managed server's first start.
 */
public final class SetInitialPassword {
    private SetInitialPassword() {}

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String password = in.readLine();
        if (password == null || password.isEmpty()) {
            System.err.println("no password on standard input");
            System.exit(2);
        }
        Class.forName("org.neo4j.cli.AdminTool")
                .getMethod("main", String[].class)
                // "--" ends the options: a password that starts with '-' (one generated password
                // in 64 does) is the parameter, not an unknown option.
                .invoke(null, (Object) new String[] {"dbms", "set-initial-password", "--", password});
    }
}

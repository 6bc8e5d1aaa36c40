import Foundation
import HTTPTypes
import Hummingbird
import TesseraCore

/// The authorization endpoint's pages, rendered on the server: no script at all, styles by a
/// per-response nonce, every value HTML-escaped (and hidden characters made visible), never
/// framed, never cached, never a referrer.
enum OAuthPages {
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in VisibleText.escape(text).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static let style = """
        body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1f24;background:#f6f8fa}
        main{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1.5rem 2rem}
        h1{font-size:1.3rem}label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
        button{margin:1rem .5rem 0 0;padding:.5rem 1.2rem;font-size:1rem;border-radius:6px;border:1px solid #8c959f;cursor:pointer}
        button.approve{background:#1f883d;color:#fff;border-color:#1a7f37}.err{color:#cf222e}.muted{color:#57606a;font-size:.9rem}
        code{background:#eff1f3;padding:0 .25rem;border-radius:3px;word-break:break-all}li{margin:.4rem 0}
        """

    static func response(
        status: HTTPResponse.Status, title: String, body: String, formTarget: String?, cookie: String? = nil, requestID: String = "", secureCookie: Bool = false
    ) -> Response {
        let nonce = Base64URL.random(byteCount: 16)
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
            <meta name="referrer" content="no-referrer"><title>\(escape(title))</title><style nonce="\(nonce)">\(style)</style></head>
            <body><main>\(body)</main></body></html>
            """
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Pragma")!] = "no-cache"
        // form-action must also allow the client's redirect: browsers apply it to the redirect
        // that follows a form post.
        let formAction = ["'self'", formTarget].compactMap { $0 }.joined(separator: " ")
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'nonce-\(nonce)'; img-src 'none'; script-src 'none'; form-action \(formAction); frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        if let cookie {
            headers[.setCookie] = "\(OAuthService.cookieName(for: requestID))=\(cookie); Path=/oauth; HttpOnly; SameSite=Lax; Max-Age=\(Int(OAuthService.pendingLifetime))\(secureCookie ? "; Secure" : "")"
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func hidden(_ step: OAuthService.Step) -> String {
        """
        <input type="hidden" name="request" value="\(escape(step.requestID))"><input type="hidden" name="csrf_token" value="\(escape(step.csrf))">
        """
    }

    static func signIn(_ step: OAuthService.Step, secureCookie: Bool) -> Response {
        let message = step.message.map { "<p class=\"err\" role=\"alert\">\(escape($0))</p>" } ?? ""
        let body = """
            <h1>Sign in to Tessera</h1>
            <p><strong>\(escape(step.clientName))</strong> wants access to <code>\(escape(step.resource))</code>.</p>
            \(message)
            <form method="post" action="/oauth/authorize">\(hidden(step))
            <label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" value="\(escape(step.username ?? ""))" required autofocus>
            <label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
            <button type="submit" class="approve">Sign in</button></form>
            <p class="muted">After you sign in you will see exactly what this application asks to do.</p>
            """
        let status: HTTPResponse.Status = step.message != nil && step.username != nil ? .unauthorized : .ok
        // form-action names the client too: an error found after sign-in redirects there.
        return response(status: status, title: "Sign in", body: body, formTarget: step.redirectOrigin, cookie: step.cookie, requestID: step.requestID, secureCookie: secureCookie)
    }

    static func consent(_ step: OAuthService.Step) -> Response {
        var scopes = ""
        for template in step.templates {
            let m = template.mission
            var grants: [String] = []
            for tool in m.allowed_tools.sorted() { grants.append("<li>tool <code>\(escape(tool))</code> with any arguments</li>") }
            for (tool, entry) in (m.tools ?? [:]).sorted(by: { $0.key < $1.key }) {
                grants.append("<li>tool <code>\(escape(tool))</code> only when <code>\(escape(CanonicalJSON.serialize(entry)))</code></li>")
            }
            if !m.forbidden_tools.isEmpty { grants.append("<li>never: \(m.forbidden_tools.sorted().map { "<code>\(escape($0))</code>" }.joined(separator: ", "))</li>") }
            grants.append("<li>resources: \(m.resource_scope.isEmpty ? "any" : m.resource_scope.map { "<code>\(escape($0))</code>" }.joined(separator: ", "))</li>")
            grants.append("<li>budget: \(m.max_tool_calls.map { "\($0) tool calls" } ?? "no limit on tool calls")\(m.max_duration_s.map { ", \($0) s per session" } ?? "")</li>")
            grants.append("<li>token lifetime: \(template.ttl_s) s\(m.delegation_allowed ? "; may delegate \(m.max_delegation_depth) level(s)" : "")</li>")
            scopes += """
                <section><h2><code>\(escape(template.name))</code></h2>\(template.description.map { "<p>\(escape($0))</p>" } ?? "")<ul>\(grants.joined())</ul></section>
                """
        }
        // What the passport will enforce for all of them together (the narrowest limits).
        var together = ""
        if step.templates.count > 1, let combined = try? MissionTemplate.combine(step.templates, agentID: step.clientID) {
            let m = combined.mission
            together = "<p><strong>Together</strong>: \(m.max_tool_calls.map { "at most \($0) tool calls in all" } ?? "no limit on tool calls"); resources: \(m.resource_scope.isEmpty ? "any" : m.resource_scope.map { "<code>\(escape($0))</code>" }.joined(separator: ", ")); token lifetime \(combined.ttl) s\(m.delegation_allowed ? "" : "; no delegation").</p>"
        }
        let body = """
            <h1>Allow \(escape(step.clientName))?</h1>
            <p>Signed in as <strong>\(escape(step.username ?? ""))</strong>.</p>
            <p>Application: <strong>\(escape(step.clientName))</strong> (<code>\(escape(step.clientID))</code>), returning to <code>\(escape(step.redirectOrigin))</code>.</p>
            <p>Resource: <code>\(escape(step.resource))</code></p>
            <p>It asks for \(step.templates.count == 1 ? "this scope" : "these \(step.templates.count) scopes"); every call it makes is checked against them and recorded:</p>
            \(scopes)
            \(together)
            <p class="muted">If you approve, the application stays signed in (it may renew its access) for up to 30 days, until you revoke it in the console or your account changes.</p>
            <form method="post" action="/oauth/authorize">\(hidden(step))
            <button type="submit" name="decision" value="approve" class="approve">Approve</button>
            <button type="submit" name="decision" value="deny">Deny</button></form>
            """
        return response(status: .ok, title: "Allow \(step.clientName)?", body: body, formTarget: step.redirectOrigin)
    }

    static func error(_ failure: OAuthService.PageFailure) -> Response {
        response(
            status: HTTPResponse.Status(code: failure.status), title: "Authorization request refused",
            body: "<h1>This request cannot continue</h1><p class=\"err\">\(escape(failure.message))</p><p class=\"muted\">You were not redirected: the request's client or redirect address could not be trusted.</p>",
            formTarget: nil)
    }
}

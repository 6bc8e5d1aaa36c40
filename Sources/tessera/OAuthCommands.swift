import ArgumentParser
import Foundation
import NIOHTTP1
import TesseraClient
import TesseraCore

/// `tessera mission template …`: the OAuth scopes an operator offers (see docs/oauth.md).
struct MissionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mission", abstract: "Mission templates: the scopes Tessera's OAuth server grants.", subcommands: [Template.self])

    struct Template: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, list, show and delete mission templates (needs oauth:write / oauth:read).",
            subcommands: [Create.self, List.self, Show.self, Delete.self])
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a template: a mission offered as OAuth scope NAME; prints its name.",
            discussion: """
                --mission is a mission as for `passport issue` (allowed_tools, tools with argument constraints, \
                resource_scope, max_tool_calls, …); agent_id is optional and, when given, is the only agent that \
                may obtain the template without a person's consent.
                """)
        @OptionGroup var options: ClientOptions
        @Argument(help: "The template's name (its OAuth scope): 1-64 of A-Z a-z 0-9 _ . : -") var name: String
        @Option(help: "Mission JSON, @file or -.") var mission: String
        @Option(help: "A gateway upstream (--mcp-upstream NAME) this template is offered on; repeatable. Default: every one.")
        var resource: [String] = []
        @Option(help: "What the consent page says about it.") var description: String?
        @Option(help: "Lifetime of an access token granted with it, seconds (5-86400, default 900).") var ttl: Int?

        func run() async throws {
            var body: [String: JSONValue] = [
                "name": .string(name), "mission": .object(try parseJSONObject(try readArgument(mission), name: "--mission")),
            ]
            if !resource.isEmpty { body["resources"] = .array(resource.map(JSONValue.string)) }
            if let description { body["description"] = .string(description) }
            if let ttl { body["ttl_s"] = .number(JSONNumber(ttl)) }
            let response = try await governanceCall(options, "/mission-templates", body, requireToken: true)
            if !options.json, case .string(let created)? = response["name"] { Output.result(created) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the templates of your workspace: name, resources, tools.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let response = try await governanceCall(options, "/mission-templates", nil, requireToken: true, method: .GET)
            guard !options.json, case .array(let templates)? = response["templates"] else { return }
            for case .object(let template) in templates {
                let name = template["name"].flatMap { if case .string(let s) = $0 { s } else { nil } } ?? ""
                let resources: String = if case .array(let r)? = template["resources"] { r.compactMap { if case .string(let s) = $0 { s } else { nil } }.joined(separator: ",") } else { "*" }
                var tools: [String] = []
                if case .object(let mission)? = template["mission"] {
                    if case .array(let allowed)? = mission["allowed_tools"] { tools += allowed.compactMap { if case .string(let s) = $0 { s } else { nil } } }
                    if case .object(let entries)? = mission["tools"] { tools += entries.keys.sorted() }
                }
                Output.result("\(VisibleText.escape(name))\t\(VisibleText.escape(resources))\t\(VisibleText.escape(tools.joined(separator: ",")))")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one template as JSON.")
        @OptionGroup var options: ClientOptions
        @Argument var name: String

        func run() async throws {
            let response = try await governanceCall(options, "/mission-templates/" + FormBody.escape(name), nil, requireToken: true, method: .GET)
            if !options.json { try Output.json(response) }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a template (tokens already granted keep their passport until it expires; refreshing them drops it).")
        @OptionGroup var options: ClientOptions
        @Argument var name: String

        func run() async throws {
            _ = try await governanceCall(options, "/mission-templates/" + FormBody.escape(name), nil, requireToken: true, method: .DELETE)
            Output.context("deleted mission template \(name)")
        }
    }
}

/// `tessera oauth …`: registered OAuth clients and the grants people made.
struct OAuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oauth", abstract: "OAuth clients and grants of Tessera's authorization server.", subcommands: [Client.self, Grant.self])

    struct Client: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Registered OAuth clients (administrators).", subcommands: [ListClients.self, DeleteClient.self])
    }

    struct ListClients: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List registered clients: id, name, redirect URIs.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let response = try await governanceCall(options, "/oauth/clients", nil, requireToken: true, method: .GET)
            guard !options.json, case .array(let clients)? = response["clients"] else { return }
            for case .object(let client) in clients {
                func text(_ name: String) -> String { if case .string(let s)? = client[name] { VisibleText.escape(s) } else { "" } }
                let uris: String = if case .array(let u)? = client["redirect_uris"] { u.compactMap { if case .string(let s) = $0 { VisibleText.escape(s) } else { nil } }.joined(separator: ",") } else { "" }
                Output.result("\(text("client_id"))\t\(text("client_name"))\t\(uris)")
            }
        }
    }

    struct DeleteClient: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a client; its refresh tokens and the passports of its grants end.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The client_id.") var clientID: String

        func run() async throws {
            _ = try await governanceCall(options, "/oauth/clients/" + FormBody.escape(clientID), nil, requireToken: true, method: .DELETE)
            Output.context("deleted OAuth client \(clientID)")
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Grants: your own, or your workspace's with oauth:read.", subcommands: [ListGrants.self, RevokeGrant.self])
    }

    struct ListGrants: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List live grants: id, client, subject, scope, resource.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let response = try await governanceCall(options, "/oauth/grants", nil, requireToken: true, method: .GET)
            guard !options.json, case .array(let grants)? = response["grants"] else { return }
            for case .object(let grant) in grants {
                func text(_ name: String) -> String { if case .string(let s)? = grant[name] { VisibleText.escape(s) } else { "" } }
                Output.result([text("id"), text("client_id"), text("subject"), text("scope"), text("resource")].joined(separator: "\t"))
            }
        }
    }

    struct RevokeGrant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a grant: its refresh tokens end and its passports are revoked.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The grant id (grant_…).") var id: String

        func run() async throws {
            _ = try await governanceCall(options, "/oauth/grants/" + FormBody.escape(id), nil, requireToken: true, method: .DELETE)
            Output.context("revoked grant \(id)")
        }
    }
}

import Foundation
public import Generated

extension BridgeAPI {
    public func listWebhooks(_ input: Operations.ListWebhooks.Input, context: Context) async throws -> Operations.ListWebhooks.Output {
        .ok(WebhookList(webhooks: try await webhooks.store.all().map(WebhookService.webhook)))
    }

    public func createWebhook(_ input: Operations.CreateWebhook.Input, context: Context) async throws -> Operations.CreateWebhook.Output {
        .created(try await webhooks.create(input.body))
    }

    public func updateWebhook(_ input: Operations.UpdateWebhook.Input, context: Context) async throws -> Operations.UpdateWebhook.Output {
        .ok(try await webhooks.update(input.webhookId, input.body))
    }

    public func deleteWebhook(_ input: Operations.DeleteWebhook.Input, context: Context) async throws -> Operations.DeleteWebhook.Output {
        try await webhooks.delete(input.webhookId)
        return .noContent
    }

    public func rotateWebhookSecret(_ input: Operations.RotateWebhookSecret.Input, context: Context) async throws
        -> Operations.RotateWebhookSecret.Output
    {
        .ok(try await webhooks.rotateSecret(input.webhookId))
    }

    public func testWebhook(_ input: Operations.TestWebhook.Input, context: Context) async throws -> Operations.TestWebhook.Output {
        .accepted(try await webhooks.test(input.webhookId))
    }

    public func listWebhookDeliveries(_ input: Operations.ListWebhookDeliveries.Input, context: Context) async throws
        -> Operations.ListWebhookDeliveries.Output
    {
        return .ok(WebhookDeliveryList(deliveries: try await webhooks.deliveries(input.webhookId, limit: input.limit ?? 50)))
    }
}

using System.Security.Claims;
using System.Text.Encodings.Web;
using ConversationLedger.Server.Api;
using ConversationLedger.Server.State;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace ConversationLedger.Server.Auth;

/// <summary>
/// Who may call: a tenant's API key (<c>x-api-key</c>, or <c>Authorization: Bearer cl_…</c>) or a JWT bearer token from the team's
/// identity provider whose tenant is a configured claim. Either way the caller's tenant ends up in one claim, and every query
/// the endpoints make is scoped by it.
/// </summary>
internal static class LedgerAuthentication
{
    /// <summary>The scheme that picks API key or JWT by what the request carries.</summary>
    public const string Scheme = "ledger";

    /// <summary>The API key scheme.</summary>
    public const string ApiKeyScheme = "api-key";

    /// <summary>The header an API key travels in.</summary>
    public const string ApiKeyHeader = "x-api-key";

    /// <summary>The authorization policy every API route requires: a caller with a tenant.</summary>
    public const string TenantPolicy = "tenant";

    /// <summary>Registers both schemes and the tenant policy.</summary>
    public static IServiceCollection AddLedgerAuthentication(this IServiceCollection services, ServerOptions options)
    {
        var authentication = services.AddAuthentication(Scheme)
            .AddPolicyScheme(Scheme, "API key or JWT", o => o.ForwardDefaultSelector = context =>
                options.Jwt.Enabled && BearerToken(context.Request) is { } token && !token.StartsWith(ServiceState.KeyPrefix, StringComparison.Ordinal)
                    ? JwtBearerDefaults.AuthenticationScheme
                    : ApiKeyScheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyScheme, _ => { });
        if (options.Jwt.Enabled)
        {
            authentication.AddJwtBearer(jwt =>
            {
                jwt.MapInboundClaims = false;
                jwt.Authority = options.Jwt.Authority;
                jwt.Audience = options.Jwt.Audience;
                jwt.RequireHttpsMetadata = options.Jwt.Authority?.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ?? true;
                jwt.Events = new JwtBearerEvents
                {
                    OnChallenge = context =>
                    {
                        context.HandleResponse();
                        return Problems.Write(context.HttpContext, Problems.Unauthorized("the bearer token is not valid"));
                    },
                    OnForbidden = context => Problems.Write(context.HttpContext,
                        Problems.Unauthorized($"the bearer token names no tenant (claim \"{options.TenantClaim}\")")),
                };
                if (options.Jwt.SigningKey is { Length: > 0 } key)
                {
                    jwt.TokenValidationParameters = new TokenValidationParameters
                    {
                        IssuerSigningKey = new SymmetricSecurityKey(Convert.FromBase64String(key)),
                        ValidIssuer = options.Jwt.Issuer,
                        ValidateIssuer = options.Jwt.Issuer is not null,
                        ValidAudience = options.Jwt.Audience,
                        ValidateAudience = options.Jwt.Audience is not null,
                    };
                }
            });
        }
        services.AddAuthorizationBuilder().AddPolicy(TenantPolicy, p => p
            .AddAuthenticationSchemes(Scheme)
            .RequireAuthenticatedUser()
            .RequireAssertion(context => TenantOf(context.User, options.TenantClaim) is not null));
        return services;
    }

    /// <summary>The caller's tenant, or null when the principal names none (or one that is not a valid key part).</summary>
    public static string? TenantOf(ClaimsPrincipal user, string claim)
    {
        ArgumentNullException.ThrowIfNull(user);
        var value = user.FindFirst(claim)?.Value;
        try
        {
            return value is null ? null : ThreadKey.CheckPart(value, "tenant");
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }

    /// <summary>Checks an API key against the hashed keys every instance shares; revocation takes effect on the next request.</summary>
    private sealed class ApiKeyHandler(
        IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
        ILoggerFactory logger,
        UrlEncoder encoder,
        ServiceState state,
        IOptions<ServerOptions> server) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
    {
        protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var secret = Request.Headers[ApiKeyHeader].ToString() is { Length: > 0 } header ? header : BearerToken(Request);
            if (secret is null)
            {
                return AuthenticateResult.NoResult();
            }
            if (await state.AuthenticateAsync(secret, Context.RequestAborted) is not { } tenant)
            {
                // Unknown and revoked keys read alike, so a probe learns nothing from the difference.
                return AuthenticateResult.Fail("the API key is not valid (unknown or revoked)");
            }
            var identity = new ClaimsIdentity([new Claim(server.Value.TenantClaim, tenant)], ApiKeyScheme);
            return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), ApiKeyScheme));
        }

        protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
            Problems.Write(Context, Problems.Unauthorized());

        protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
            Problems.Write(Context, Problems.Unauthorized("the credentials name no tenant"));
    }
}

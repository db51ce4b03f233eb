using Spectre.Console.Cli;

namespace ConversationLedger.Cli.Hosting;

/// <summary>
/// A minimal container for Spectre.Console.Cli: registered instances, and types built through their widest
/// constructor. The CLI has a handful of services, so a full DI container would only add a dependency.
/// </summary>
public sealed class TypeRegistrar : ITypeRegistrar
{
    private readonly Dictionary<Type, List<Func<object>>> _factories = [];

    /// <inheritdoc />
    public void Register(Type service, Type implementation) => Add(service, () => Create(implementation));

    /// <inheritdoc />
    public void RegisterInstance(Type service, object implementation) => Add(service, () => implementation);

    /// <inheritdoc />
    public void RegisterLazy(Type service, Func<object> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var lazy = new Lazy<object>(factory);
        Add(service, () => lazy.Value);
    }

    /// <inheritdoc />
    public ITypeResolver Build() => new Resolver(this);

    private void Add(Type service, Func<object> factory)
    {
        if (!_factories.TryGetValue(service, out var list))
        {
            _factories[service] = list = [];
        }
        list.Add(factory);
    }

    private object Create(Type type)
    {
        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).FirstOrDefault()
            ?? throw new InvalidOperationException($"{type} has no public constructor");
        var arguments = constructor.GetParameters()
            .Select(p => Resolve(p.ParameterType) ?? throw new InvalidOperationException($"{type} needs a {p.ParameterType}, which is not registered"))
            .ToArray();
        return constructor.Invoke(arguments);
    }

    private object? Resolve(Type? type)
    {
        if (type is null)
        {
            return null;
        }
        if (_factories.TryGetValue(type, out var factories))
        {
            return factories[^1]();
        }
        // Spectre asks for IEnumerable<T> of its extension points (help providers …): all registrations, maybe none.
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>))
        {
            var element = type.GetGenericArguments()[0];
            var all = _factories.TryGetValue(element, out var registered) ? registered.Select(f => f()).ToArray() : [];
            var array = Array.CreateInstance(element, all.Length);
            Array.Copy(all, array, all.Length);
            return array;
        }
        // Commands and settings are not registered one by one: build any concrete class on demand.
        return type is { IsClass: true, IsAbstract: false } && type.GetConstructors().Length > 0 ? Create(type) : null;
    }

    private sealed class Resolver(TypeRegistrar registrar) : ITypeResolver
    {
        public object? Resolve(Type? type) => registrar.Resolve(type);
    }
}
